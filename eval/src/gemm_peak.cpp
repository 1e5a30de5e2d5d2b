#include <attnzoo/eval/gemm_peak.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace attnzoo::eval {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto c = line.find(':');
      return c == std::string::npos ? line : line.substr(line.find_first_not_of(' ', c + 1));
    }
  return "unknown";
}

std::filesystem::path cache_path() {
  if (const char* h = std::getenv("ATTNZOO_HOME"); h && *h) return std::filesystem::path(h) / "gemm_peak.json";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "attnzoo" / "gemm_peak.json";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "attnzoo" / "gemm_peak.json";
  return std::filesystem::temp_directory_path() / "attnzoo_gemm_peak.json";
}

nlohmann::json read_cache(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return nlohmann::json::object();
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json::object();
}

void write_cache(const std::filesystem::path& p, const nlohmann::json& j) {
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  const auto tmp = p.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    if (!out) return;  // a read-only home only costs a re-measurement next time
    out << j.dump(1) << "\n";
  }
  std::filesystem::rename(tmp, p, ec);
}

}  // namespace

double measure_gemm_gflops(int threads) {
  const int saved = at::get_num_threads();
  at::set_num_threads(threads);
  double best = 0;
  // Two sizes that fit the L2/L3 blocking of every BLAS we link; the best of several runs of each.
  for (int64_t n : {1024, 2048}) {
    auto a = at::randn({n, n}), b = at::randn({n, n}), c = at::empty({n, n});
    at::mm_out(c, a, b);  // warm-up: packing buffers, thread pool
    const double flop = 2.0 * n * n * n;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    do {
      const auto t0 = std::chrono::steady_clock::now();
      at::mm_out(c, a, b);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, flop / s / 1e9);
    } while (std::chrono::steady_clock::now() < deadline);
  }
  at::set_num_threads(saved);
  return best;
}

GemmPeak gemm_peak(bool refresh) {
  GemmPeak p;
  p.threads = at::get_num_threads();
  p.cpu = cpu_model();
  const auto path = cache_path();
  p.cache_file = path.string();
  const std::string key = p.cpu + " | threads " + std::to_string(p.threads) + " | torch " + TORCH_VERSION;
  auto cache = read_cache(path);
  if (!refresh && cache.contains(key) && cache[key].is_number() && cache[key].get<double>() > 0) {
    p.gflops = cache[key].get<double>();
    p.cached = true;
    return p;
  }
  p.gflops = measure_gemm_gflops(p.threads);
  cache[key] = p.gflops;
  write_cache(path, cache);
  return p;
}

}  // namespace attnzoo::eval
