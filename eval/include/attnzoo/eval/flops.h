#pragma once
// A FLOP counter driven by ATen's RecordFunction observers: it sees every op a forward runs and
// counts the ones that dominate cost (convolution, linear/addmm, mm, bmm, matmul, baddbmm,
// the attention op), never double-counting ops nested inside a counted one.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace attnzoo::eval {

struct FlopCount {
  int64_t macs = 0;                      // multiply-accumulates
  std::map<std::string, int64_t> by_op;  // macs per aten op
  double gflops() const { return 2.0 * static_cast<double>(macs) / 1e9; }
  double gmacs() const { return static_cast<double>(macs) / 1e9; }
};

/// Runs fn() and counts the MACs of the ops it executes on this thread.
FlopCount count_flops(const std::function<void()>& fn);

}  // namespace attnzoo::eval
