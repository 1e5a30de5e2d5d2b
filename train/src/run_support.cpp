#include "run_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace attnzoo::train::detail {

at::Tensor torch_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_torch_rng_state(const at::Tensor& s) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(s);
}

void inject_fault(int64_t rank, int64_t update) {
  static const char* spec = std::getenv("ATTNZOO_FAULT_INJECT");
  if (!spec) return;
  long long r = -1, u = -1;
  if (std::sscanf(spec, "%lld:%lld", &r, &u) == 2 && r == rank && u == update) std::_Exit(9);
}

std::unique_ptr<ProcessGroup> join_process_group(int64_t rank, int64_t world_size, const at::Device& device, double timeout_s,
                                                 double init_timeout_s) {
  if (world_size <= 1) return nullptr;
  DistEnv env = DistEnv::from_env();
  env.rank = rank;
  env.world_size = world_size;
  env.backend = device.is_cuda() ? "nccl" : "gloo";
  env.device = device.str();
  const auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0)); };
  return std::make_unique<ProcessGroup>(env, ms(timeout_s), ms(init_timeout_s));
}

void broadcast_module(ProcessGroup& pg, torch::nn::Module& module) {
  torch::NoGradGuard ng;
  std::vector<at::Tensor> state;
  for (auto& p : module.parameters()) state.push_back(p.data());
  for (auto& b : module.buffers()) state.push_back(b);
  pg.broadcast(state, 0);
}

void allreduce_gradients(ProcessGroup& pg, const std::vector<Param>& params, std::vector<at::Tensor>& scratch) {
  scratch.clear();
  for (const auto& prm : params) {
    at::Tensor p = prm.tensor;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    scratch.push_back(p.grad());
  }
  pg.allreduce_mean(scratch);
}

double allreduce_mean(ProcessGroup& pg, double value) {
  // On the group's device: NCCL reduces CUDA tensors only.
  std::vector<at::Tensor> l{torch::tensor({value}, torch::TensorOptions(torch::kDouble).device(pg.device()))};
  pg.allreduce_sum(l);
  return l[0].item<double>() / static_cast<double>(pg.world_size());
}

void verify_replicas(ProcessGroup& pg, torch::nn::Module& module, int64_t update) {
  torch::NoGradGuard ng;
  std::vector<at::Tensor> flat;
  for (auto& p : module.parameters()) flat.push_back(p.detach().reshape({-1}));
  const at::Tensor mine = torch::cat(flat);
  std::vector<at::Tensor> ref{mine.clone()};
  pg.broadcast(ref, 0);
  std::vector<at::Tensor> same{
      torch::tensor({torch::equal(mine, ref[0]) ? 0.0 : 1.0}, torch::TensorOptions(torch::kDouble).device(pg.device()))};
  pg.allreduce_sum(same);
  if (same[0].item<double>() != 0.0)
    throw std::runtime_error("--dist-verify: replicas diverged after update " + std::to_string(update));
}

}  // namespace attnzoo::train::detail
