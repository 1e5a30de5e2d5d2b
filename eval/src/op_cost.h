#pragma once
// What an ATen op costs, from its recorded inputs and outputs: shared by the FLOP counter and the
// per-op profiler (private to attnzoo_eval).
#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <numeric>
#include <string>
#include <vector>

namespace attnzoo::eval {

// Installs a RecordFunction callback (process-wide or for this thread) and enables recording for the
// guard's lifetime; removes the callback again on every exit path, exceptions included.
class ObserverGuard {
 public:
  ObserverGuard(const at::RecordFunctionCallback& cb, bool global)
      : handle_(global ? at::addGlobalCallback(cb) : at::addThreadLocalCallback(cb)) {}
  ~ObserverGuard() { at::removeCallback(handle_); }
  ObserverGuard(const ObserverGuard&) = delete;
  ObserverGuard& operator=(const ObserverGuard&) = delete;

 private:
  at::CallbackHandle handle_;
  at::RecordFunctionGuard enable_{true};
};

// An op's inputs, copied when it starts. LibTorch 2.x boxes them only for the start callbacks and destroys
// them before the op runs (1.13 kept them until the end callbacks): read them at entry, use them at exit.
struct CapturedInputs : at::ObserverContext {
  std::vector<c10::IValue> inputs;
  explicit CapturedInputs(const at::RecordFunction& fn) : inputs(fn.inputs().begin(), fn.inputs().end()) {}
};

inline const std::vector<c10::IValue>& captured_inputs(const at::ObserverContext* ctx) {
  static const std::vector<c10::IValue> none;
  const auto* c = dynamic_cast<const CapturedInputs*>(ctx);
  return c ? c->inputs : none;
}

inline int64_t shape_numel(c10::IntArrayRef s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>()); }

inline bool is_counted_op(const std::string& n) {
  return n == "aten::convolution" || n == "aten::_convolution" || n == "aten::conv2d" || n == "aten::conv1d" ||
         n == "aten::linear" || n == "aten::addmm" || n == "aten::mm" || n == "aten::bmm" || n == "aten::matmul" ||
         n == "aten::baddbmm" || n == "aten::_scaled_dot_product_attention" ||
         n == "aten::scaled_dot_product_attention" || n == "aten::einsum" ||
         n == "attnzoo::na_qk" || n == "attnzoo::na_av" || n == "attnzoo::depthwise_conv2d" ||
         n == "attnzoo::softmax_attention";
}

// MACs of an op from its inputs and outputs.
inline int64_t macs_of_op(const std::string& n, const std::vector<c10::IValue>& in, const std::vector<c10::IValue>& out) {
  auto tensor = [](const std::vector<c10::IValue>& v, size_t i) -> at::Tensor {
    return i < v.size() && v[i].isTensor() ? v[i].toTensor() : at::Tensor();
  };
  const at::Tensor y = tensor(out, 0);
  if (n == "attnzoo::depthwise_conv2d" || n == "attnzoo::softmax_attention")
    return in.size() > 2 && in[2].isInt() ? in[2].toInt() : 0;  // recorded MACs
  if (n.find("conv") != std::string::npos) {
    const at::Tensor w = tensor(in, 1);
    if (!w.defined() || !y.defined()) return 0;
    // Each output element needs Cin/groups * prod(kernel) MACs = shape_numel(weight) / Cout.
    return shape_numel(y.sizes()) * (shape_numel(w.sizes()) / w.size(0));
  }
  if (n == "aten::linear") {
    const at::Tensor w = tensor(in, 1);
    if (!w.defined() || !y.defined()) return 0;
    return shape_numel(y.sizes()) * w.size(-1);
  }
  if (n == "aten::addmm" || n == "aten::mm" || n == "aten::bmm" || n == "aten::matmul" || n == "aten::baddbmm") {
    const at::Tensor a = tensor(in, n == "aten::addmm" || n == "aten::baddbmm" ? 1 : 0);
    if (!a.defined() || !y.defined()) return 0;
    return shape_numel(y.sizes()) * a.size(-1);
  }
  if (n == "attnzoo::na_qk") {  // inputs q, k, kh * kw
    const at::Tensor q = tensor(in, 0);
    return q.defined() && in.size() > 2 && in[2].isInt() ? shape_numel(q.sizes()) * in[2].toInt() : 0;
  }
  if (n == "attnzoo::na_av") {  // inputs attn [.., K], v [.., d]
    const at::Tensor a = tensor(in, 0), v = tensor(in, 1);
    return a.defined() && v.defined() ? shape_numel(a.sizes()) * v.size(-1) : 0;
  }
  if (n == "aten::_scaled_dot_product_attention" || n == "aten::scaled_dot_product_attention") {
    const at::Tensor q = tensor(in, 0), k = tensor(in, 1);
    if (!q.defined() || !k.defined()) return 0;
    return 2 * shape_numel(q.sizes()) * k.size(-2);  // QK^T and AV
  }
  return 0;
}


// Bytes read + written by an op that only moves data (0 for every other op): the output's size twice.
inline int64_t bytes_moved_by_op(const std::string& n, const std::vector<c10::IValue>& out) {
  static const char* movers[] = {"aten::copy_", "aten::clone", "aten::contiguous", "aten::cat", "aten::constant_pad_nd",
                                 "aten::_to_copy", "aten::index", "aten::gather", "aten::roll", "aten::pad", "aten::repeat",
                                 "aten::im2col", "aten::col2im", "aten::narrow_copy"};
  bool mover = false;
  for (const char* m : movers) mover = mover || n == m;
  if (!mover || out.empty() || !out[0].isTensor()) return 0;
  const at::Tensor& t = out[0].toTensor();
  return t.defined() ? 2 * static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()) : 0;
}

}  // namespace attnzoo::eval
