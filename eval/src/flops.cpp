#include <attnzoo/eval/flops.h>

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include "op_cost.h"

namespace attnzoo::eval {
namespace {

thread_local FlopCount* g_count = nullptr;
thread_local int g_depth = 0;  // > 0 while inside a counted op

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  if (!g_count) return nullptr;
  const std::string n = fn.name();
  if (!is_counted_op(n)) return nullptr;
  // Only the outermost counted op is costed; its inputs are read now (see CapturedInputs).
  return ++g_depth == 1 ? std::make_unique<CapturedInputs>(fn) : nullptr;
}

void on_exit(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  if (!g_count) return;
  const std::string n = fn.name();
  if (!is_counted_op(n)) return;
  --g_depth;
  if (g_depth > 0) return;  // nested inside another counted op
  std::vector<c10::IValue> out(fn.outputs().begin(), fn.outputs().end());
  const int64_t m = macs_of_op(n, captured_inputs(ctx), out);
  g_count->macs += m;
  g_count->by_op[n] += m;
}

}  // namespace

FlopCount count_flops(const std::function<void()>& fn) {
  FlopCount c;
  g_count = &c;
  g_depth = 0;
  struct Reset {
    ~Reset() { g_count = nullptr; }
  } reset;
  ObserverGuard observe(
      at::RecordFunctionCallback(on_enter, on_exit).needsInputs(true).needsOutputs(true).scopes({at::RecordScope::FUNCTION}),
      /*global=*/false);
  fn();
  return c;
}

}  // namespace attnzoo::eval
