// The results database of one run folder: SQLite in WAL mode. Every
// response is committed as it arrives, keyed by its request hash, so an
// interrupted run resumes without recomputing or losing anything; scores,
// aggregates and run metadata live beside them, and reports are built from
// here alone.
//
// One database may hold several runs, each under its own label (a
// comparison's backends); a plain run uses the empty label. A ResultsStore
// reads and writes the one run its label names.
//
// Values are never invented: a NULL or a value of the wrong type where a
// number belongs is DataLoss, and a non-finite log-prob is refused on write.
//
// Threading: one ResultsStore per thread at a time (the runner serialises
// backend callbacks). Errors name the database file (and the label).
#ifndef COMPASS_RESULTS_RESULTS_STORE_H_
#define COMPASS_RESULTS_RESULTS_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/status.h"

struct sqlite3;

namespace compass {

struct RunMetadata {
  std::string config_text;  // the config after overrides, as TOML
  std::string config_hash;  // identifies the config; a resume must match it
  std::string compass_version, git_hash;
  std::string backend, backend_version;
  std::string model_path, dtype;
  std::string devices_json, backend_options_json;
  std::string started_at, finished_at;  // ISO 8601, UTC
  double seconds = 0;
  std::string notes_json = "[]";  // warnings recorded during the run (e.g. dtype fallback)
};

// A backend's answer to one request.
struct StoredResponse {
  std::string hash;
  std::string kind;  // "loglikelihood" | "rolling" | "generate"
  double logprob = 0;
  bool is_greedy = false;
  uint64_t num_tokens = 0;
  std::vector<int32_t> tokens;  // generate: generated ids
  // Per continuation / generated token, when the backend gave them (for
  // where two backends first diverge).
  std::vector<float> token_logprobs;
  uint32_t finish_reason = 0;
};

// One scored item, as reports show it.
struct StoredSample {
  std::string task, item_id, group;
  uint64_t ordinal = 0;     // position in the dataset
  std::string sample_json;  // prompt, choices, log-probs, prediction, reference, correct
  std::map<std::string, double> metrics;
};

struct StoredAggregate {
  std::string task, group, metric, stderr_method;
  double value = 0, stderr_value = 0;
  uint64_t count = 0;
  bool higher_is_better = true;
};

struct StoredTask {
  std::string name, dataset, scorer;
  uint64_t items = 0, requests = 0, computed = 0;  // computed: requests sent this time
  double seconds = 0;
  uint64_t ordinal = 0;
};

struct StoredFigure {
  std::string name, scope;
  double value = 0;
  uint32_t unit = 0;
};

class ResultsStore {
 public:
  static constexpr char kFileName[] = "results.sqlite";

  // Opens (creating if needed) <dir>/results.sqlite for the run `label`. A
  // file that is not a Compass results database is an error, never
  // overwritten; one written by an older Compass is upgraded in place.
  static StatusOr<std::unique_ptr<ResultsStore>> Open(const std::string& dir,
                                                      const std::string& label = "");
  // Opens an existing database read-only (reports, comparisons).
  static StatusOr<std::unique_ptr<ResultsStore>> OpenExisting(const std::string& dir,
                                                              const std::string& label = "");
  // The same for a database file of any name (a shard's store of a sharded
  // run, shard/shard_stores.h): `create` as Open, else as OpenExisting.
  static StatusOr<std::unique_ptr<ResultsStore>> OpenFile(const std::string& path,
                                                          const std::string& label, bool create);
  ~ResultsStore();

  const std::string& path() const { return path_; }
  const std::string& label() const { return label_; }
  // Labels of every run the database holds.
  StatusOr<std::vector<std::string>> Labels() const;

  // Records the run, or checks that a stored run has the same config hash.
  // A different config is refused unless `restart`, which deletes this
  // label's stored results first (other labels are untouched).
  Status BeginRun(const RunMetadata& meta, bool restart);
  StatusOr<RunMetadata> Run() const;
  Status FinishRun(const std::string& finished_at, double seconds, const std::string& notes_json);

  // Responses already stored among `hashes`.
  StatusOr<std::map<std::string, StoredResponse>> Responses(
      const std::set<std::string>& hashes) const;
  Status PutResponse(const StoredResponse& response);  // committed on return
  // Many responses in one transaction (merging stores): all or none.
  Status PutResponses(const std::vector<StoredResponse>& responses);
  StatusOr<uint64_t> CountResponses() const;
  StatusOr<std::set<std::string>> ResponseHashes() const;

  // Replace a task's samples/aggregates/figures (one transaction each).
  Status PutTask(const StoredTask& task, const std::vector<StoredSample>& samples,
                 const std::vector<StoredAggregate>& aggregates);
  Status PutFigures(const std::vector<StoredFigure>& figures);

  StatusOr<std::vector<StoredTask>> Tasks() const;
  StatusOr<std::vector<StoredSample>> Samples(const std::string& task) const;
  StatusOr<std::vector<StoredAggregate>> Aggregates(const std::string& task) const;
  StatusOr<std::vector<StoredFigure>> Figures() const;

 private:
  ResultsStore(sqlite3* db, std::string path, std::string label)
      : db_(db), path_(std::move(path)), label_(std::move(label)) {}
  static StatusOr<std::unique_ptr<ResultsStore>> OpenImpl(const std::string& dir,
                                                          const std::string& path,
                                                          const std::string& label, bool create);
  Status UpgradeFromVersion1();
  Status DeleteRun();
  Status Exec(const char* sql) const;
  Status Error(const std::string& what) const;
  std::string Where() const;  // " under '<label>'", or "" for the empty label
  sqlite3* db_;
  std::string path_;
  std::string label_;
};

}  // namespace compass

#endif  // COMPASS_RESULTS_RESULTS_STORE_H_
