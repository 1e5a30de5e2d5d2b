#include <attnzoo/eval/profile.h>

#include "op_cost.h"

#include <ATen/record_function.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

namespace attnzoo::eval {
namespace {

using Clock = std::chrono::steady_clock;

struct Accum {
  int64_t calls = 0;
  double self_ns = 0, total_ns = 0;
  int64_t macs = 0, bytes = 0;
};

struct Frame {
  Clock::time_point start;
  double child_ns = 0;
  bool outermost_of_name = true;  // no enclosing frame with the same name (recursion guard for total)
  std::string name;
};

// Per-thread stacks (autograd may run nodes on other threads); one shared table under a mutex.
struct Recorder {
  std::mutex mu;
  std::map<std::string, Accum> table;
  bool with_costs = false;  // second pass: record MACs/bytes, not times
};
Recorder* g_recorder = nullptr;
thread_local std::vector<Frame> t_stack;
thread_local int t_counted_depth = 0;

std::unique_ptr<at::ObserverContext> enter(const at::RecordFunction& fn) {
  if (!g_recorder) return nullptr;
  std::string name = fn.name();
  if (g_recorder->with_costs) {
    if (is_counted_op(name) && ++t_counted_depth == 1) return std::make_unique<CapturedInputs>(fn);
    return nullptr;
  }
  bool outer = true;
  for (const auto& f : t_stack) outer = outer && f.name != name;
  t_stack.push_back({Clock::now(), 0.0, outer, std::move(name)});
  return nullptr;
}

void exit_costs(const at::RecordFunction& fn, const at::ObserverContext* ctx) {
  const std::string name = fn.name();
  const bool counted = is_counted_op(name);
  if (counted) --t_counted_depth;
  std::vector<c10::IValue> out(fn.outputs().begin(), fn.outputs().end());
  int64_t macs = 0;
  if (counted && t_counted_depth == 0) macs = macs_of_op(name, captured_inputs(ctx), out);
  const int64_t bytes = bytes_moved_by_op(name, out);
  if (macs == 0 && bytes == 0) return;
  std::lock_guard<std::mutex> lock(g_recorder->mu);
  auto& a = g_recorder->table[name];
  a.macs += macs;
  a.bytes += bytes;
}

void exit(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  if (!g_recorder) return;
  if (g_recorder->with_costs) return exit_costs(fn, ctx);
  if (t_stack.empty()) return;  // entered before the profiler started
  Frame f = std::move(t_stack.back());
  t_stack.pop_back();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - f.start).count();
  if (!t_stack.empty()) t_stack.back().child_ns += ns;
  std::lock_guard<std::mutex> lock(g_recorder->mu);
  auto& a = g_recorder->table[f.name];
  ++a.calls;
  a.self_ns += ns - f.child_ns;
  if (f.outermost_of_name) a.total_ns += ns;
}

// Runs fn under a global observer of FUNCTION and BACKWARD_FUNCTION events.
void observe(const std::function<void()>& fn, bool with_costs, int times, Recorder& rec) {
  rec.with_costs = with_costs;
  g_recorder = &rec;
  auto cb = at::RecordFunctionCallback(enter, exit)
                .needsInputs(with_costs)
                .needsOutputs(with_costs)
                .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION});
  struct Reset {
    ~Reset() {
      g_recorder = nullptr;
      t_stack.clear();
      t_counted_depth = 0;
    }
  } reset;
  ObserverGuard observe(cb, /*global=*/true);
  for (int i = 0; i < times; ++i) fn();
}

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1 << 20));
  else if (b >= 1 << 10) std::snprintf(buf, sizeof buf, "%.1f KiB", b / (1 << 10));
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

}  // namespace

Profile profile_ops(const std::function<void()>& fn, int iterations, const std::function<void()>& forward_for_costs) {
  TORCH_CHECK(iterations > 0, "profile: iterations must be positive");
  fn();  // warm-up: first-call allocations and lazy initialisation stay out of the table
  Recorder timing;
  const auto t0 = Clock::now();
  observe(fn, false, iterations, timing);
  const double wall_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  Recorder costs;
  {
    at::NoGradGuard no_grad;
    observe(forward_for_costs, true, 1, costs);
  }

  Profile p;
  p.iterations = iterations;
  p.wall_ms = wall_ns / 1e6 / iterations;
  for (const auto& [name, a] : timing.table) {
    OpStat s;
    s.name = name;
    s.calls = a.calls / iterations;
    s.self_ms = a.self_ns / 1e6 / iterations;
    s.total_ms = a.total_ns / 1e6 / iterations;
    auto c = costs.table.find(name);
    if (c != costs.table.end()) {
      s.macs = c->second.macs;
      s.bytes = c->second.bytes;
    }
    p.ops.push_back(std::move(s));
  }
  std::sort(p.ops.begin(), p.ops.end(), [](const OpStat& a, const OpStat& b) { return a.self_ms > b.self_ms; });
  return p;
}

std::string Profile::table(size_t top) const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-44s %7s %10s %7s %10s %10s %10s\n", "op", "calls", "self ms", "share", "total ms",
                "GFLOP/s", "moved");
  out += line;
  double shown = 0;
  const size_t n = top == 0 ? ops.size() : std::min(top, ops.size());
  for (size_t i = 0; i < n; ++i) {
    const OpStat& s = ops[i];
    shown += s.self_ms;
    const std::string gf = s.macs > 0 ? std::to_string(static_cast<int64_t>(s.gflops_per_s() + 0.5)) : "";
    const std::string mv = s.bytes > 0 ? human_bytes(static_cast<double>(s.bytes)) : "";
    std::snprintf(line, sizeof line, "%-44.44s %7lld %10.3f %6.1f%% %10.3f %10s %10s\n", s.name.c_str(),
                  static_cast<long long>(s.calls), s.self_ms, wall_ms > 0 ? 100.0 * s.self_ms / wall_ms : 0.0, s.total_ms,
                  gf.c_str(), mv.c_str());
    out += line;
  }
  double all = 0;
  for (const auto& s : ops) all += s.self_ms;
  std::snprintf(line, sizeof line, "(%zu of %zu ops shown: %.1f%% of %.3f ms per iteration; all ops' self time %.1f%%, the rest is "
                "outside ATen ops)\n", n, ops.size(), wall_ms > 0 ? 100.0 * shown / wall_ms : 0.0, wall_ms,
                wall_ms > 0 ? 100.0 * all / wall_ms : 0.0);
  out += line;
  return out;
}

nlohmann::json Profile::to_json() const {
  nlohmann::json j = {{"wall_ms_per_iteration", wall_ms}, {"iterations", iterations}, {"ops", nlohmann::json::array()}};
  for (const auto& s : ops)
    j["ops"].push_back({{"name", s.name}, {"calls", s.calls}, {"self_ms", s.self_ms}, {"total_ms", s.total_ms},
                        {"share", wall_ms > 0 ? s.self_ms / wall_ms : 0.0}, {"macs", s.macs}, {"gflops_per_s", s.gflops_per_s()},
                        {"bytes_moved", s.bytes}});
  return j;
}

}  // namespace attnzoo::eval
