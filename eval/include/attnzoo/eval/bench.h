#pragma once
// Model benchmark (timm benchmark.py equivalent): warm-up, timed iterations, median throughput,
// latency percentiles, peak memory, parameters and FLOPs.
#include <attnzoo/models/classifier.h>

#include <nlohmann/json.hpp>

#include <functional>

namespace attnzoo::eval {

struct BenchOptions {
  int64_t batch = 32;
  int64_t img_size = 224;
  int64_t in_chans = 3;
  bool train = false;  // forward + backward + SGD-like step instead of inference
  std::string dtype = "float32";
  int warmup = 3;
  int iters = 10;
  std::string device = "cpu";
  bool channels_last = false;   // NHWC input and 4-D weights (as train --channels-last)
  bool compare_to_peak = true;  // measure (or read the cached) GEMM peak and report the share reached
};

struct BenchResult {
  double images_per_second = 0;  // median over iterations
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;  // per batch
  int64_t peak_memory_bytes = 0;  // CPU: peak RSS during the timed part; CUDA: max allocated
  int64_t param_count = 0;
  double gmacs = 0, gflops = 0;   // per image, forward
  // Achieved throughput: forward GFLOPs x img/s (a training step counts as 3 forwards: forward, and
  // backward's two products per forward product). peak: the machine's float32 GEMM at these threads.
  double achieved_gflops_per_s = 0, peak_gflops_per_s = 0;
  double peak_share() const { return peak_gflops_per_s > 0 ? achieved_gflops_per_s / peak_gflops_per_s : 0; }
  nlohmann::json to_json() const;
};

BenchResult benchmark(models::ClassifierImpl& model, const BenchOptions& options);

/// One iteration of what benchmark() times (inference forward, or forward + backward + update) and its
/// forward alone, for the per-op profiler; the model is moved to the options' device/dtype first.
struct BenchStep {
  std::function<void()> step, forward;
};
BenchStep bench_step(models::ClassifierImpl& model, const BenchOptions& options);

/// Peak resident set size of this process since the last reset (Linux VmHWM), and its reset.
int64_t peak_rss_bytes();
void reset_peak_rss();

}  // namespace attnzoo::eval
