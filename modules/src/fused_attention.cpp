#include <attnzoo/modules/fused_attention.h>

#include "attention_kernel.h"

#include <attnzoo/torch_compat.h>

#include <attnzoo/modules/fast_kernels.h>

#include <ATen/Dispatch.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

namespace attnzoo::modules {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

std::vector<int64_t> leading_dims(const at::Tensor& t) { return t.sizes().slice(0, t.dim() - 2).vec(); }

kernels::AttentionGeometry geometry(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  kernels::AttentionGeometry g{};
  g.N = q.size(-2), g.M = k.size(-2), g.d = q.size(-1), g.dv = v.size(-1);
  g.L = g.N > 0 ? q.numel() / (g.N * g.d) : 0;
  return g;
}

// The bias as a view of shape [..., N, M] whose [N, M] matrices are contiguous (materialised only when the
// bias broadcasts inside a matrix, e.g. a key-padding row), and each problem's offset into it.
struct BiasView {
  at::Tensor data;               // the storage the offsets point into
  std::vector<int64_t> offsets;  // one per problem
};

BiasView bias_view(const at::Tensor& bias, const std::vector<int64_t>& lead, int64_t N, int64_t M) {
  std::vector<int64_t> full = lead;
  full.push_back(N);
  full.push_back(M);
  at::Tensor b = bias;
  const bool matrices_contiguous =
      b.dim() >= 2 && b.size(-2) == N && b.size(-1) == M && b.stride(-1) == 1 && (N == 1 || b.stride(-2) == M);
  if (!matrices_contiguous) {
    std::vector<int64_t> sizes = b.sizes().vec();
    while (sizes.size() < 2) sizes.insert(sizes.begin(), 1);
    b = b.reshape(sizes);
    sizes[sizes.size() - 2] = N;
    sizes[sizes.size() - 1] = M;
    b = b.expand(sizes).contiguous();
  }
  b = b.expand(full);
  BiasView view{b, std::vector<int64_t>()};
  int64_t L = 1;
  for (int64_t s : lead) L *= s;
  view.offsets.resize(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) {
    int64_t rest = i, off = 0;
    for (int64_t dim = static_cast<int64_t>(lead.size()) - 1; dim >= 0; --dim) {
      off += (rest % lead[dim]) * b.stride(dim);
      rest /= lead[dim];
    }
    view.offsets[static_cast<size_t>(i)] = off;
  }
  return view;
}

class SoftmaxAttentionFunction : public torch::autograd::Function<SoftmaxAttentionFunction> {
 public:
  // bias: an empty tensor stands for "none" (autograd functions take no undefined tensors).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q_in, const at::Tensor& k_in,
                            const at::Tensor& v_in, const at::Tensor& bias, double scale) {
    const at::Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const auto g = geometry(q, k, v);
    const auto lead = leading_dims(q);
    const bool has_bias = bias.numel() > 0;
    const BiasView bv = has_bias ? bias_view(bias, lead, g.N, g.M) : BiasView{};
    const bool grad = q_in.requires_grad() || k_in.requires_grad() || v_in.requires_grad() ||
                      (has_bias && bias.requires_grad());
    std::vector<int64_t> out_sizes = lead;
    out_sizes.push_back(g.N);
    out_sizes.push_back(g.dv);
    at::Tensor out = at::empty(out_sizes, q.options());
    at::Tensor probs = grad ? at::empty({g.L, g.N, g.M}, q.options()) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "softmax_attention", [&] {
      kernels::attention_forward<scalar_t>(g, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                                           static_cast<scalar_t>(scale),
                                           has_bias ? bv.data.data_ptr<scalar_t>() : nullptr, bv.offsets.data(),
                                           out.data_ptr<scalar_t>(), grad ? probs.data_ptr<scalar_t>() : nullptr);
    });
    if (grad) {
      ctx->save_for_backward({q, k, v, probs});
      ctx->saved_data["scale"] = scale;
      ctx->saved_data["bias_sizes"] = has_bias ? bias.sizes().vec() : std::vector<int64_t>{};
      ctx->saved_data["has_bias"] = has_bias;
    }
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const double scale = ctx->saved_data["scale"].toDouble();
    const bool bias_grad = ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(3);
    const auto g = geometry(q, k, v);
    const at::Tensor gout = grads[0].contiguous();
    at::Tensor gq = at::empty_like(q), gk = at::empty_like(k), gv = at::empty_like(v);
    at::Tensor glogits = bias_grad ? at::empty_like(probs) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "softmax_attention_backward", [&] {
      kernels::attention_backward<scalar_t>(g, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                                            static_cast<scalar_t>(scale), probs.data_ptr<scalar_t>(),
                                            gout.data_ptr<scalar_t>(), gq.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(),
                                            gv.data_ptr<scalar_t>(), bias_grad ? glogits.data_ptr<scalar_t>() : nullptr);
    });
    at::Tensor gbias;
    if (bias_grad) {
      std::vector<int64_t> full = leading_dims(q);
      full.push_back(g.N);
      full.push_back(g.M);
      gbias = at::sum_to(glogits.view(full), ctx->saved_data["bias_sizes"].toIntVector());
    }
    return {gq, gk, gv, gbias, at::Tensor()};
  }
};

bool kernel_supports(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  const auto dtype = q.scalar_type();
  if (dtype != at::kFloat && dtype != at::kDouble) return false;
  for (const at::Tensor* t : {&q, &k, &v})
    if (!t->device().is_cpu() || t->scalar_type() != dtype || t->dim() < 3 || t->dim() != q.dim()) return false;
  if (bias.defined() && (!bias.device().is_cpu() || bias.scalar_type() != dtype)) return false;
  const int64_t r = q.dim();
  for (int64_t i = 0; i < r - 2; ++i)
    if (k.size(i) != q.size(i) || v.size(i) != q.size(i)) return false;
  return k.size(-1) == q.size(-1) && v.size(-2) == k.size(-2) && q.numel() > 0 && k.numel() > 0 && v.numel() > 0;
}

// LibTorch 2.2+'s fused SDPA: always on CUDA (attnzoo's kernel is CPU-only); on CPU its flash-attention kernel
// beats attnzoo's for rows longer than a window (DeiT's 197 tokens, agent tokens, PVT's 3136 queries) and loses
// on 7x7 windows (bench/README.md, BM_SoftmaxAttention). Its CPU backward gives no gradient for the mask, so
// a learnable bias (relative position tables, agent biases) stays on attnzoo's kernel.
bool prefer_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  if (!compat::kHasFusedSdpa || q.dim() < 3 || k.dim() != q.dim() || v.dim() != q.dim()) return false;
  for (int64_t i = 0; i + 2 < q.dim(); ++i)
    if (k.size(i) != q.size(i) || v.size(i) != q.size(i)) return false;
  if (q.is_cuda()) return true;
  const bool bias_needs_grad = bias.defined() && bias.requires_grad() && at::GradMode::is_enabled();
  return q.is_cpu() && q.size(-2) > 64 && !bias_needs_grad;
}

}  // namespace

at::Tensor softmax_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                       const at::Tensor& bias) {
  at::Tensor logits = at::matmul(q, k.transpose(-2, -1)) * scale;
  if (bias.defined()) logits = logits + bias;
  return at::matmul(logits.softmax(-1), v);
}

at::Tensor softmax_attention_kernel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                    const at::Tensor& bias) {
  TORCH_CHECK(kernel_supports(q, k, v, bias),
              "softmax_attention_kernel: expects CPU float32/float64 q [..., N, d], k [..., M, d], v [..., M, dv] "
              "with equal leading dims, got ", q.sizes(), ", ", k.sizes(), ", ", v.sizes(), " ", q.scalar_type());
  const auto g = geometry(q, k, v);
  // Visible to the profiler and the FLOP counter: q, k and the MACs of both products.
  const std::vector<c10::IValue> record_inputs{q, k, c10::IValue(g.L * g.N * g.M * (g.d + g.dv))};
  RECORD_FUNCTION("attnzoo::softmax_attention", record_inputs);
  const at::Tensor b = bias.defined() ? bias : at::empty({0}, q.options());
  return SoftmaxAttentionFunction::apply(q, k, v, b, scale);
}

at::Tensor softmax_attention_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                  const at::Tensor& bias) {
  if (q.dim() == 4) return compat::sdpa(q, k, v, bias, scale);
  // [..., N, d] -> [L, 1, N, d]; the bias expanded to the leading dims (its fused kernels take 4-D only).
  const auto lead = q.sizes().slice(0, q.dim() - 2);
  auto to4 = [&](const at::Tensor& t) { return t.reshape({-1, 1, t.size(-2), t.size(-1)}); };
  at::Tensor b;
  if (bias.defined()) {
    std::vector<int64_t> full(lead.begin(), lead.end());
    full.push_back(q.size(-2));
    full.push_back(k.size(-2));
    b = to4(bias.expand(full));
  }
  at::Tensor out = compat::sdpa(to4(q), to4(k), to4(v), b, scale);
  std::vector<int64_t> shape(lead.begin(), lead.end());
  shape.push_back(q.size(-2));
  shape.push_back(v.size(-1));
  return out.reshape(shape);
}

at::Tensor softmax_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                             const at::Tensor& bias) {
  if (fast_kernels_enabled()) {
    if (prefer_sdpa(q, k, v, bias)) return softmax_attention_sdpa(q, k, v, scale, bias);
    if (kernel_supports(q, k, v, bias)) return softmax_attention_kernel(q, k, v, scale, bias);
  }
  return softmax_attention_reference(q, k, v, scale, bias);
}

}  // namespace attnzoo::modules
