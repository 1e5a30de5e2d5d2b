#include <attnzoo/eval/flops.h>

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <numeric>

namespace attnzoo::eval {
namespace {

thread_local FlopCount* g_count = nullptr;
thread_local int g_depth = 0;  // > 0 while inside a counted op

int64_t numel(c10::IntArrayRef s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>()); }

bool counted(const std::string& n) {
  return n == "aten::convolution" || n == "aten::_convolution" || n == "aten::conv2d" || n == "aten::conv1d" ||
         n == "aten::linear" || n == "aten::addmm" || n == "aten::mm" || n == "aten::bmm" || n == "aten::matmul" ||
         n == "aten::baddbmm" || n == "aten::_scaled_dot_product_attention" || n == "aten::einsum" ||
         n == "attnzoo::na_qk" || n == "attnzoo::na_av";
}

// MACs of an op from its inputs and outputs.
int64_t macs_of(const std::string& n, const std::vector<c10::IValue>& in, const std::vector<c10::IValue>& out) {
  auto tensor = [](const std::vector<c10::IValue>& v, size_t i) -> at::Tensor {
    return i < v.size() && v[i].isTensor() ? v[i].toTensor() : at::Tensor();
  };
  const at::Tensor y = tensor(out, 0);
  if (n.find("conv") != std::string::npos) {
    const at::Tensor w = tensor(in, 1);
    if (!w.defined() || !y.defined()) return 0;
    // Each output element needs Cin/groups * prod(kernel) MACs = numel(weight) / Cout.
    return numel(y.sizes()) * (numel(w.sizes()) / w.size(0));
  }
  if (n == "aten::linear") {
    const at::Tensor w = tensor(in, 1);
    if (!w.defined() || !y.defined()) return 0;
    return numel(y.sizes()) * w.size(-1);
  }
  if (n == "aten::addmm" || n == "aten::mm" || n == "aten::bmm" || n == "aten::matmul" || n == "aten::baddbmm") {
    const at::Tensor a = tensor(in, n == "aten::addmm" || n == "aten::baddbmm" ? 1 : 0);
    if (!a.defined() || !y.defined()) return 0;
    return numel(y.sizes()) * a.size(-1);
  }
  if (n == "attnzoo::na_qk") {  // inputs q, k, kh * kw
    const at::Tensor q = tensor(in, 0);
    return q.defined() && in.size() > 2 && in[2].isInt() ? numel(q.sizes()) * in[2].toInt() : 0;
  }
  if (n == "attnzoo::na_av") {  // inputs attn [.., K], v [.., d]
    const at::Tensor a = tensor(in, 0), v = tensor(in, 1);
    return a.defined() && v.defined() ? numel(a.sizes()) * v.size(-1) : 0;
  }
  if (n == "aten::_scaled_dot_product_attention") {
    const at::Tensor q = tensor(in, 0), k = tensor(in, 1);
    if (!q.defined() || !k.defined()) return 0;
    return 2 * numel(q.sizes()) * k.size(-2);  // QK^T and AV
  }
  return 0;
}

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  if (!g_count) return nullptr;
  const std::string n = fn.name();
  if (!counted(n)) return nullptr;
  ++g_depth;
  return nullptr;
}

void on_exit(const at::RecordFunction& fn, at::ObserverContext*) {
  if (!g_count) return;
  const std::string n = fn.name();
  if (!counted(n)) return;
  --g_depth;
  if (g_depth > 0) return;  // nested inside another counted op
  std::vector<c10::IValue> in(fn.inputs().begin(), fn.inputs().end());
  std::vector<c10::IValue> out(fn.outputs().begin(), fn.outputs().end());
  const int64_t m = macs_of(n, in, out);
  g_count->macs += m;
  g_count->by_op[n] += m;
}

}  // namespace

FlopCount count_flops(const std::function<void()>& fn) {
  FlopCount c;
  g_count = &c;
  g_depth = 0;
  auto handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback(on_enter, on_exit).needsInputs(true).needsOutputs(true).scopes({at::RecordScope::FUNCTION}));
  try {
    at::RecordFunctionGuard enable(true);
    fn();
  } catch (...) {
    at::removeCallback(handle);
    g_count = nullptr;
    throw;
  }
  at::removeCallback(handle);
  g_count = nullptr;
  return c;
}

}  // namespace attnzoo::eval
