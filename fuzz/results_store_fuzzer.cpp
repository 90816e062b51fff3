// The results database: the input is a run folder's results.sqlite. It is
// opened read-only, as reports and comparisons open it, and every run label
// it holds is read through the public API (run, responses, tasks, samples,
// aggregates, figures); then it is opened for writing, as resuming a run
// does (which upgrades an older schema in place), and read again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "results/results_store.h"
#include "status_check.h"

using namespace compass;

namespace {

template <typename T>
bool Check(const StatusOr<T>& value) {
  if (!value.ok()) fuzz::CheckNotInternal(value.status());
  return value.ok();
}

void ReadRun(const ResultsStore& store) {
  (void)Check(store.Run());
  (void)Check(store.CountResponses());
  const auto hashes = store.ResponseHashes();
  if (Check(hashes)) (void)Check(store.Responses(*hashes));
  (void)Check(store.Responses({"", "0", "deadbeef"}));
  const auto tasks = store.Tasks();
  if (Check(tasks)) {
    for (const StoredTask& task : *tasks) {
      (void)Check(store.Samples(task.name));
      (void)Check(store.Aggregates(task.name));
    }
  }
  (void)Check(store.Figures());
}

void ReadAll(const std::string& dir, bool writable) {
  auto open = writable ? ResultsStore::Open : ResultsStore::OpenExisting;
  auto store = open(dir, "");
  if (!Check(store)) return;
  ReadRun(**store);
  const auto labels = (*store)->Labels();
  if (!Check(labels)) return;
  store->reset();  // one connection at a time, as the commands do
  for (const std::string& label : *labels) {
    auto labelled = open(dir, label);
    if (Check(labelled)) ReadRun(**labelled);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ResetScratch();
  fuzz::WriteScratch(ResultsStore::kFileName,
                     std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string dir = fuzz::ScratchDir().string();
  ReadAll(dir, /*writable=*/false);
  ReadAll(dir, /*writable=*/true);
  return 0;
}
