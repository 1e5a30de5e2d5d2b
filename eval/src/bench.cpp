#include <attnzoo/eval/bench.h>

#include <attnzoo/eval/flops.h>
#include <attnzoo/eval/gemm_peak.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace attnzoo::eval {

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

nlohmann::json BenchResult::to_json() const {
  return {{"images_per_second", images_per_second}, {"latency_ms_p50", latency_ms_p50}, {"latency_ms_p90", latency_ms_p90},
          {"latency_ms_p99", latency_ms_p99},       {"peak_memory_bytes", peak_memory_bytes}, {"param_count", param_count},
          {"gmacs", gmacs},                         {"gflops", gflops},
          {"achieved_gflops_per_s", achieved_gflops_per_s}, {"peak_gflops_per_s", peak_gflops_per_s},
          {"peak_share", peak_share()}};
}

namespace {

at::ScalarType bench_dtype(const BenchOptions& o) {
  return o.dtype == "float64" ? at::kDouble : o.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
}

at::Tensor bench_input(const BenchOptions& o) {
  at::Tensor x = torch::randn({o.batch, o.in_chans, o.img_size, o.img_size},
                              torch::TensorOptions().dtype(bench_dtype(o)).device(at::Device(o.device)));
  return o.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

void prepare_model(models::ClassifierImpl& model, const BenchOptions& o) {
  model.to(at::Device(o.device), bench_dtype(o));
  if (!o.channels_last) return;
  torch::NoGradGuard ng;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

// One timed iteration. Inference runs under c10::InferenceMode (no autograd bookkeeping at all);
// training does forward, backward and a plain SGD-like update (the optimizer is not what is measured).
std::function<void()> make_step(models::ClassifierImpl& model, const BenchOptions& o, at::Tensor x) {
  const bool cuda = at::Device(o.device).is_cuda();
  return [&model, o, x, cuda] {
    if (o.train) {
      model.train();
      model.zero_grad();
      auto y = model.forward(x);
      y.to(at::kFloat).logsumexp(1).mean().backward();
      torch::NoGradGuard ng;
      for (auto& p : model.parameters())
        if (p.grad().defined()) p.add_(p.grad(), -1e-6);
    } else {
      c10::InferenceMode guard;
      model.eval();
      model.forward(x);
    }
    if (cuda) torch::cuda::synchronize();
  };
}

}  // namespace

BenchStep bench_step(models::ClassifierImpl& model, const BenchOptions& o) {
  prepare_model(model, o);
  const at::Tensor x = bench_input(o);
  return {make_step(model, o, x), [&model, x] { model.forward(x); }};
}

BenchResult benchmark(models::ClassifierImpl& model, const BenchOptions& o) {
  prepare_model(model, o);
  BenchResult r;
  for (const auto& p : model.parameters()) r.param_count += p.numel();
  const auto x = bench_input(o);
  {
    torch::NoGradGuard ng;
    model.eval();
    const auto one = x.narrow(0, 0, 1);
    const FlopCount c = count_flops([&] { model.forward(one); });
    r.gmacs = c.gmacs();
    r.gflops = c.gflops();
  }
  const auto run_once = make_step(model, o, x);
  for (int i = 0; i < o.warmup; ++i) run_once();
  reset_peak_rss();
  std::vector<double> ms;
  for (int i = 0; i < o.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run_once();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  r.peak_memory_bytes = peak_rss_bytes();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * (ms.size() - 1) + 0.5))]; };
  r.latency_ms_p50 = pct(0.5);
  r.latency_ms_p90 = pct(0.9);
  r.latency_ms_p99 = pct(0.99);
  r.images_per_second = o.batch / (r.latency_ms_p50 / 1000.0);
  r.achieved_gflops_per_s = r.gflops * r.images_per_second * (o.train ? 3.0 : 1.0);
  if (o.compare_to_peak && !at::Device(o.device).is_cuda() && bench_dtype(o) == at::kFloat)
    r.peak_gflops_per_s = gemm_peak().gflops;
  return r;
}

}  // namespace attnzoo::eval
