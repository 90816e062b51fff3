// A pipeline whose stages are processes (processes = true,
// docs/scale-out.md): process k of a model copy holds stage k. The first
// process runs the engine and its stage; each micro-batch's hidden state
// then goes to process 1, from each process to the next (c10d send and
// receive: Gloo between CPUs, NCCL between GPUs), and the last stage's
// output comes back to the first.
//
// Messages, in order on each link: a header of kHeaderSize int64, then for
// a micro-batch an int64 payload (positions, valid, head rows and columns,
// kept cache rows) and the hidden state. The others keep their part of
// each generation group's KV cache, told by the micro-batch what changed
// (MicroBatch::new_cache_rows, kept_rows).
//
// Failures: a stage that throws passes its message on instead of a hidden
// state, and the first process's Exchange throws it (naming the stage and
// the process); a broken link throws CollectiveError naming the processes.
//
// Threading: Exchange on one thread (the StageWorkers' remote worker);
// ServeStage on the thread that calls serve.
#ifndef COMPASS_PIPELINE_REMOTE_STAGES_H_
#define COMPASS_PIPELINE_REMOTE_STAGES_H_

#include <memory>
#include <string>

#include "models/process_group.h"
#include "models/stage.h"
#include "stage_workers.h"

namespace compass::pipeline {

// The first process's view of the stages in processes 1 .. size-1.
class ProcessRemoteStages final : public RemoteStages {
 public:
  ProcessRemoteStages(std::shared_ptr<model::ProcessCommunicator> comm, c10::Device device);
  // Tells the other processes to stop serving, unless a link broke.
  ~ProcessRemoteStages() override;
  std::string Describe() const override;
  void Exchange(MicroBatch& mb) override;

 private:
  std::shared_ptr<model::ProcessCommunicator> comm_;
  c10::Device device_;  // where this process's tensors are
  bool broken_ = false;
};

// Process comm.rank() > 0: computes `stage` for every micro-batch its
// predecessor hands on, until the first process stops (returns) or a link
// breaks (throws CollectiveError).
void ServeStage(const model::Stage& stage, model::ProcessCommunicator& comm);

}  // namespace compass::pipeline

#endif  // COMPASS_PIPELINE_REMOTE_STAGES_H_
