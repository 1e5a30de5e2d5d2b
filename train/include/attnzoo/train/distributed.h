#pragma once
// Data-parallel plumbing over torch.distributed's c10d (ProcessGroupGloo on CPU), the engine PyTorch
// users already run. The c10d headers (and the 1.13 vs 2.x ProcessGroup/Backend difference) stay inside
// distributed.cpp; this header only has tensors and plain types.
//
// Launch like torchrun: every process gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; rank 0
// hosts the TCPStore rendezvous. Multi-node = the same command on each node with the same MASTER_ADDR.
#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace attnzoo::train {

struct DistEnv {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA LibTorch builds, CUDA tensors)
  /// From the torchrun environment variables; world_size 1 when WORLD_SIZE is unset. Malformed values
  /// throw std::invalid_argument naming the variable.
  static DistEnv from_env();
};

class ProcessGroup {
 public:
  /// Joins the group (blocks until every rank arrived or `timeout` passed). Collective operations that
  /// cannot complete within `timeout` (a rank died or hangs) throw std::runtime_error.
  ProcessGroup(const DistEnv& env, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_; }

  /// Copies rank `root`'s tensors into every rank's (in place).
  void broadcast(std::vector<at::Tensor>& tensors, int64_t root = 0);
  /// Averages the tensors over the ranks in place, flattened into buckets of about `bucket_bytes`
  /// (one all-reduce per bucket and dtype instead of one per tensor).
  void allreduce_mean(std::vector<at::Tensor>& tensors, size_t bucket_bytes = size_t{25} << 20);
  /// Sums in place.
  void allreduce_sum(std::vector<at::Tensor>& tensors);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0, world_ = 1;
};

}  // namespace attnzoo::train
