#pragma once
// What the image trainer (trainer.cpp) and the sequence trainer (lra.cpp) share besides the checkpoint
// format (attnzoo/checkpoint/run_checkpoint.h): the CPU generator state and the data-parallel replica
// operations (start from rank 0's weights, average gradients, agree on a scalar, verify replicas).
#include <attnzoo/train/distributed.h>
#include <attnzoo/train/optim.h>

#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

namespace attnzoo::train::detail {

at::Tensor torch_rng_state();
void set_torch_rng_state(const at::Tensor& state);

/// Testing aid for the data-parallel failure path: ATTNZOO_FAULT_INJECT=<rank>:<update> makes that rank die
/// abruptly (as if killed) right after that update.
void inject_fault(int64_t rank, int64_t update);

/// Joins the data-parallel group of a run (null for world_size 1): the torchrun environment with this rank /
/// world size, Gloo for CPU devices and NCCL for CUDA ones; collectives time out after `timeout_s`.
std::unique_ptr<ProcessGroup> join_process_group(int64_t rank, int64_t world_size, const at::Device& device, double timeout_s,
                                                 double init_timeout_s);

/// Every replica takes rank 0's parameters and buffers.
void broadcast_module(ProcessGroup& pg, torch::nn::Module& module);
/// Averages the gradients of `params` over the replicas (missing gradients become zeros so that every rank
/// has the same bucket layout). `scratch` is reused between steps.
void allreduce_gradients(ProcessGroup& pg, const std::vector<Param>& params, std::vector<at::Tensor>& scratch);
/// The mean of a scalar over the ranks (decisions such as stop-on-NaN must be the same everywhere).
double allreduce_mean(ProcessGroup& pg, double value);
/// Throws when some replica's parameters differ from rank 0's (--dist-verify).
void verify_replicas(ProcessGroup& pg, torch::nn::Module& module, int64_t update);

}  // namespace attnzoo::train::detail
