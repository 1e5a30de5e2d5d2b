#pragma once
// The machine's measured float32 GEMM throughput: the yardstick `attnzoo bench` divides by ("share of
// peak"). Measured with LibTorch's own at::mm (the BLAS every linear and 1x1 conv uses) at the current
// intra-op thread count, and cached per machine so that every bench run compares against one number.
#include <string>

namespace attnzoo::eval {

struct GemmPeak {
  double gflops = 0;    // best of the probe's square float32 GEMMs, GFLOP/s
  int threads = 0;      // intra-op threads it was measured with
  std::string cpu;      // /proc/cpuinfo "model name"
  bool cached = false;  // read from the cache instead of measured now
  std::string cache_file;
};

/// The cache lives in $ATTNZOO_HOME/gemm_peak.json (default ~/.cache/attnzoo/), keyed by CPU model,
/// thread count and LibTorch version; `refresh` measures again and rewrites the entry.
GemmPeak gemm_peak(bool refresh = false);

/// Measures now (about a second), without the cache.
double measure_gemm_gflops(int threads);

}  // namespace attnzoo::eval
