#include <attnzoo/train/distributed.h>

#include <attnzoo/torch_compat.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>  // CUDA LibTorch builds only
#endif

#include <cstdlib>
#include <map>
#include <stdexcept>

namespace attnzoo::train {

namespace {

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || x < 0) throw std::invalid_argument(std::string("environment variable ") + name + "='" + v + "' is not a non-negative integer");
  return x;
}

std::string describe(const std::exception& e) {
  std::string m = e.what();
  const auto nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

}  // namespace

DistEnv DistEnv::from_env() {
  DistEnv e;
  e.world_size = env_int("WORLD_SIZE", 1);
  e.rank = env_int("RANK", 0);
  e.local_rank = env_int("LOCAL_RANK", e.rank);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = static_cast<int>(env_int("MASTER_PORT", 29500));
  if (e.world_size < 1) throw std::invalid_argument("WORLD_SIZE must be >= 1");
  if (e.rank >= e.world_size)
    throw std::invalid_argument("RANK=" + std::to_string(e.rank) + " is not below WORLD_SIZE=" + std::to_string(e.world_size));
  if (e.master_port <= 0 || e.master_port > 65535) throw std::invalid_argument("MASTER_PORT out of range");
  return e;
}

using BackendBase = compat::C10dBackend;  // 1.13: c10d::ProcessGroup, 2.x: c10d::Backend

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> pg;

  // One collective, with c10d's errors (peer closed, timeout) turned into one clear line.
  template <typename F>
  void run(const char* what, F&& f) {
    try {
      auto work = f();
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("distributed ") + what +
                               " failed (another rank died, hung or timed out): " + describe(e));
    }
  }
};

ProcessGroup::ProcessGroup(const DistEnv& env, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_(env.world_size) {
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>("attnzoo", tcp);
    if (env.backend == "nccl") {
#ifdef USE_C10D_NCCL
      auto nopts = c10d::ProcessGroupNCCL::Options::create();
      nopts->timeout = timeout;
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, static_cast<int>(env.rank),
                                                               static_cast<int>(env.world_size), nopts);
#else
      throw std::runtime_error("this LibTorch has no NCCL (CPU build): use the gloo backend");
#endif
    } else {
      auto opts = c10d::ProcessGroupGloo::Options::create();
      opts->timeout = timeout;
      // Loopback for single-host runs; the master's interface otherwise (gloo resolves the hostname).
      const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
      opts->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                    : c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(env.rank),
                                                               static_cast<int>(env.world_size), opts);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("distributed init (rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                             ", master " + env.master_addr + ":" + std::to_string(env.master_port) +
                             ") failed: " + describe(e));
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int64_t root) {
  if (world_ == 1) return;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->run("broadcast", [&] { return impl_->pg->broadcast(one, o); });
  }
}

void ProcessGroup::allreduce_sum(std::vector<at::Tensor>& tensors) {
  if (world_ == 1) return;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    impl_->run("all-reduce", [&] { return impl_->pg->allreduce(one); });
  }
}

void ProcessGroup::allreduce_mean(std::vector<at::Tensor>& tensors, size_t bucket_bytes) {
  if (world_ == 1) return;
  torch::NoGradGuard ng;
  // Buckets of same-dtype tensors, in order: flatten, one all-reduce, scale, copy back.
  size_t i = 0;
  while (i < tensors.size()) {
    std::vector<at::Tensor> bucket;
    size_t bytes = 0;
    const auto dtype = tensors[i].scalar_type();
    while (i < tensors.size() && tensors[i].scalar_type() == dtype && (bucket.empty() || bytes < bucket_bytes)) {
      bytes += tensors[i].numel() * tensors[i].element_size();
      bucket.push_back(tensors[i++]);
    }
    std::vector<at::Tensor> flat{torch::cat([&] {
      std::vector<at::Tensor> v;
      for (auto& t : bucket) v.push_back(t.reshape({-1}));
      return v;
    }())};
    impl_->run("all-reduce", [&] { return impl_->pg->allreduce(flat); });
    flat[0].div_(static_cast<double>(world_));
    int64_t off = 0;
    for (auto& t : bucket) {
      t.copy_(flat[0].slice(0, off, off + t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

void ProcessGroup::barrier() {
  if (world_ == 1) return;
  impl_->run("barrier", [&] { return impl_->pg->barrier(); });
}

}  // namespace attnzoo::train
