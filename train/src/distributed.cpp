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

#include <cstdio>
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
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size);
  e.group_rank = env_int("GROUP_RANK", 0);
  e.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0);
  if (const char* a = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); a && std::string(a) == "True") e.agent_store = true;
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = static_cast<int>(env_int("MASTER_PORT", 29500));
  if (e.world_size < 1) throw std::invalid_argument("WORLD_SIZE must be >= 1");
  if (e.rank >= e.world_size)
    throw std::invalid_argument("RANK=" + std::to_string(e.rank) + " is not below WORLD_SIZE=" + std::to_string(e.world_size));
  if (e.master_port <= 0 || e.master_port > 65535) throw std::invalid_argument("MASTER_PORT out of range");
  return e;
}

std::string DistEnv::device_for(const std::string& requested) const {
  if (world_size > 1 && requested == "cuda") return "cuda:" + std::to_string(local_rank);
  return requested;
}

std::string DistEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local " + std::to_string(local_rank) +
         " of " + std::to_string(local_world_size) + ", node " + std::to_string(group_rank) + ", restart " +
         std::to_string(restart_count) + (agent_store ? ", torchrun agent store" : "") + ")";
}

namespace {

// The store every rank meets in. Under torchrun's agent store, the agent serves it and the ranks' keys live
// under "/worker/attempt_<restart>" (torch.distributed's rendezvous does the same), so a restarted group
// never reads its predecessor's keys.
c10::intrusive_ptr<c10d::Store> connect_store(const DistEnv& env, std::chrono::milliseconds init_timeout) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0 && !env.agent_store;
  so.numWorkers = static_cast<size_t>(env.world_size);
  so.waitWorkers = false;  // arrival is checked below, naming the ranks that are missing
  so.timeout = init_timeout;
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  if (env.agent_store)
    store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), store);
  return c10::make_intrusive<c10d::PrefixStore>("attnzoo", store);
}

// Every rank announces itself and waits for the others within `init_timeout`; on timeout, the error lists the
// ranks that never arrived (e.g. rank 0 died at start-up) instead of waiting for the collective timeout.
void wait_for_all_ranks(c10d::Store& store, const DistEnv& env, std::chrono::milliseconds init_timeout) {
  store.set("arrived/" + std::to_string(env.rank), std::vector<uint8_t>{1});
  std::vector<std::string> keys;
  for (int64_t r = 0; r < env.world_size; ++r) keys.push_back("arrived/" + std::to_string(r));
  try {
    store.wait(keys, init_timeout);
  } catch (const std::exception&) {
    std::string missing;
    for (int64_t r = 0; r < env.world_size; ++r)
      if (!store.check({keys[static_cast<size_t>(r)]})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", static_cast<double>(init_timeout.count()) / 1000.0);
    throw std::runtime_error("rank(s) " + missing + " never arrived within --dist-init-timeout " + seconds + " s");
  }
}

}  // namespace

using BackendBase = compat::C10dBackend;  // 1.13: c10d::ProcessGroup, 2.x: c10d::Backend

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> pg;
  at::Device device{at::kCPU};

  // NCCL takes CUDA tensors only and Gloo's CPU path CPU ones: a tensor on another device than the model's
  // is a bug in the caller, reported as one (on CPU runs too, where both backends would accept it).
  void check_devices(const char* what, const std::vector<at::Tensor>& tensors) const {
    for (const auto& t : tensors)
      if (t.device() != device)
        throw std::logic_error(std::string("distributed ") + what + ": a tensor on " + t.device().str() +
                               " reached a group whose tensors live on " + device.str());
  }

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

ProcessGroup::ProcessGroup(const DistEnv& env, std::chrono::milliseconds timeout, std::chrono::milliseconds init_timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_(env.world_size) {
  try {
    impl_->device = at::Device(env.device);
    impl_->store = connect_store(env, init_timeout);
    wait_for_all_ranks(*impl_->store, env, init_timeout);
    impl_->store->setTimeout(timeout);
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
    impl_->check_devices("broadcast", one);
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->run("broadcast", [&] { return impl_->pg->broadcast(one, o); });
  }
}

void ProcessGroup::allreduce_sum(std::vector<at::Tensor>& tensors) {
  if (world_ == 1) return;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    impl_->check_devices("all-reduce", one);
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
    impl_->check_devices("all-reduce", flat);
    impl_->run("all-reduce", [&] { return impl_->pg->allreduce(flat); });
    flat[0].div_(static_cast<double>(world_));
    int64_t off = 0;
    for (auto& t : bucket) {
      t.copy_(flat[0].slice(0, off, off + t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

at::Device ProcessGroup::device() const { return impl_->device; }

void ProcessGroup::barrier() {
  if (world_ == 1) return;
  impl_->run("barrier", [&] { return impl_->pg->barrier(); });
}

}  // namespace attnzoo::train
