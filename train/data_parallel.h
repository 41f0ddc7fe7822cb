// Data parallelism over torch's c10d with the Gloo backend: N processes (ranks), one TCP
// rendezvous store on rank 0's host, gradients summed with all-reduce (train/trainer.h says how
// a step splits its batch). On one machine the ranks meet on 127.0.0.1; across machines, on
// rank 0's address. Gloo runs on CPUs; a CUDA build of libtorch would use NCCL the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/trainer.h"

namespace afm::train {

struct process_group {
  collective comm;                // rank, size and all_reduce_sum over the group
  std::function<void()> barrier;  // returns once every rank has called it
  std::shared_ptr<void> handle;   // keeps the store and the Gloo group alive
};

// Joins (rank 0: creates) the group of `size` ranks whose store listens on host:port. Blocks
// until every rank has joined; fails with a message naming host:port after timeout_s.
process_group join_process_group(const std::string& host, uint16_t port, int rank, int size,
                                 int timeout_s = 120);

// A TCP port on 127.0.0.1 that nothing listens on now (for a local launch).
uint16_t free_local_port();

}  // namespace afm::train
