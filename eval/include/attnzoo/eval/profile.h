#pragma once
// A per-op profiler for `attnzoo bench --profile`: where the time of a forward (or a training step)
// goes, op by op. It observes ATen's RecordFunction events (the same hook the FLOP counter uses), so
// it sees every dispatched op and every autograd node, with self time (time not spent in nested
// ops), inclusive time, MACs of the ops the FLOP counter knows and the bytes written by copies.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnzoo::eval {

struct OpStat {
  std::string name;       // "aten::mm", "ConvolutionBackward0", "attnzoo::na_qk", ...
  int64_t calls = 0;      // per iteration
  double self_ms = 0;     // per iteration: time inside the op minus the time in ops it called
  double total_ms = 0;    // per iteration: inclusive time (outermost calls only: no double counting)
  int64_t macs = 0;       // per iteration, for counted ops (conv, linear, matmul family, attention ops)
  int64_t bytes = 0;      // per iteration: bytes read + written by copy-like ops (copy_, cat, pad, ...)
  double gflops_per_s() const { return total_ms > 0 ? 2.0 * static_cast<double>(macs) / (total_ms * 1e6) : 0; }
};

struct Profile {
  std::vector<OpStat> ops;  // sorted by self time, largest first
  double wall_ms = 0;       // per iteration
  int iterations = 0;
  /// Human-readable table of the `top` ops by self time (0: all), with each one's share of the wall time.
  std::string table(size_t top = 25) const;
  nlohmann::json to_json() const;
};

/// Runs fn() once untimed (warm-up), then `iterations` times observed; every number is per iteration.
/// MACs and bytes come from one extra observed run of `forward_for_costs` (the forward part of fn, run
/// without autograd: LibTorch 1.13 records unusable outputs for ops under autograd) with inputs and
/// outputs recorded, so that recording them does not distort the times. Backward ops get times only.
Profile profile_ops(const std::function<void()>& fn, int iterations, const std::function<void()>& forward_for_costs);

}  // namespace attnzoo::eval
