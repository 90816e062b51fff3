// NCCL for the ranks of a tensor-parallel model on CUDA devices of this
// process: one NCCL communicator per device (ncclCommInitAll), each driven
// by its rank's thread, collectives enqueued on the device's current CUDA
// stream (the stream the model's kernels run on, so no extra
// synchronisation is needed between them).
//
// The Communicator contract holds as for InProcessGroup, except that a
// mismatch of shapes between ranks is undefined behaviour in NCCL (not a
// CollectiveError): the callers are the model's own ranks, which always
// agree. A rank that throws aborts every communicator (ncclCommAbort), so
// the other ranks' pending collectives end instead of hanging; the group is
// unusable afterwards (every collective throws CollectiveError).
#ifndef COMPASS_MODELS_NCCL_COMMUNICATOR_H_
#define COMPASS_MODELS_NCCL_COMMUNICATOR_H_

#include <c10/core/Device.h>

#include <memory>
#include <vector>

#include "models/communicator.h"
#include "util/status.h"

namespace compass::model {

// Whether this build has NCCL (and libtorch with CUDA).
bool NcclBuilt();

// The ranks on `devices`, rank r on devices[r]. Unsupported when this build
// has no NCCL; InvalidArgument for a device that is not CUDA or is given
// twice, or no device; Internal with NCCL's own message when it cannot
// initialise (e.g. a device index past the GPUs present).
StatusOr<std::unique_ptr<RankGroup>> NcclRanks(const std::vector<c10::Device>& devices);

}  // namespace compass::model

#endif  // COMPASS_MODELS_NCCL_COMMUNICATOR_H_
