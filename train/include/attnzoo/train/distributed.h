#pragma once
// Data-parallel plumbing over torch.distributed's c10d (ProcessGroupGloo on CPU), the engine PyTorch
// users already run. The c10d headers (and the 1.13 vs 2.x ProcessGroup/Backend difference) stay inside
// distributed.cpp; this header only has tensors and plain types.
//
// Launch like torchrun: every process gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; rank 0
// hosts the TCPStore rendezvous, except under torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True, its
// default), where torchrun's agent already serves it on MASTER_ADDR:MASTER_PORT and every rank connects as a
// client, as torch.distributed's env:// rendezvous does. Multi-node = the same command on each node with the
// same MASTER_ADDR.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace attnzoo::train {

struct DistEnv {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  int64_t local_world_size = 1, group_rank = 0, restart_count = 0;  // LOCAL_WORLD_SIZE, GROUP_RANK, TORCHELASTIC_RESTART_COUNT
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE=True: the store is torchrun's, every rank is a client
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA LibTorch builds, CUDA tensors)
  std::string device = "cpu";    // where the tensors given to the collectives live (the model's device)
  /// From the torchrun environment variables; world_size 1 when WORLD_SIZE is unset. Malformed values
  /// throw std::invalid_argument naming the variable.
  static DistEnv from_env();
  /// "cuda" becomes "cuda:LOCAL_RANK" in a data-parallel run (one GPU per local process, as torchrun
  /// scripts do); any other device string is returned as given.
  std::string device_for(const std::string& requested) const;
  /// One line for the log: "rank 1 of 4 (local 1 of 2, node 0, restart 0, agent store)".
  std::string describe() const;
};

class ProcessGroup {
 public:
  /// Joins the group: blocks until every rank arrived, at most `init_timeout` (then throws naming the
  /// ranks that never arrived, or the store that never answered). Collective operations that cannot
  /// complete within `timeout` (a rank died or hangs) throw std::runtime_error.
  ProcessGroup(const DistEnv& env, std::chrono::milliseconds timeout, std::chrono::milliseconds init_timeout);
  ~ProcessGroup();
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_; }
  /// The device every tensor given to a collective must be on (checked: std::logic_error otherwise).
  at::Device device() const;

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
