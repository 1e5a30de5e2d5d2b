// HiLo1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/litv2.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

HiLo1DImpl::HiLo1DImpl(const HiLo1DOptions& o) : options(o) { reset(); }

void HiLo1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "HiLo1D: dim ", C, " is not divisible by num_heads ", H);
  TORCH_CHECK(options.window() > 0 && options.alpha() >= 0 && options.alpha() <= 1, "HiLo1D: window > 0, alpha in [0, 1]");
  head_dim = C / H;
  l_heads = static_cast<int64_t>(H * options.alpha());  // LITv2: int(num_heads * alpha)
  h_heads = H - l_heads;
  const int64_t l_dim = l_heads * head_dim, h_dim = h_heads * head_dim;
  if (l_heads > 0) {
    l_q = register_module("l_q", nn::Linear(nn::LinearOptions(C, l_dim).bias(options.qkv_bias())));
    l_kv = register_module("l_kv", nn::Linear(nn::LinearOptions(C, 2 * l_dim).bias(options.qkv_bias())));
    l_proj = register_module("l_proj", nn::Linear(l_dim, l_dim));
  }
  if (h_heads > 0) {
    h_qkv = register_module("h_qkv", nn::Linear(nn::LinearOptions(C, 3 * h_dim).bias(options.qkv_bias())));
    h_proj = register_module("h_proj", nn::Linear(h_dim, h_dim));
  }
}

at::Tensor HiLo1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "HiLo1D");
  const int64_t B = x.size(0), L = x.size(1), w = options.window(), nw = (L + w - 1) / w, Lp = nw * w, d = head_dim;
  const double scale = std::pow(static_cast<double>(d), -0.5);
  const at::Tensor xz = zero_padding(x, mask);
  const at::Tensor pad = seq::padding_to(x, mask, Lp);  // [B, Lp]
  std::vector<at::Tensor> outs;
  if (h_heads > 0) {  // Hi-Fi: attention inside each window of w tokens
    const int64_t hd = h_heads * d;
    auto t = F::pad(h_qkv(xz), F::PadFuncOptions({0, 0, 0, Lp - L})).reshape({B, nw, w, 3, h_heads, d}).permute({3, 0, 1, 4, 2, 5});
    at::Tensor logits = torch::matmul(t[0] * scale, t[1].transpose(-2, -1));  // [B, nw, h, w, w]
    logits = logits.masked_fill(pad.view({B, nw, 1, 1, w}), seq::kNegInf);
    const at::Tensor o = torch::matmul(seq::safe_softmax(logits), t[2]).permute({0, 1, 3, 2, 4}).reshape({B, Lp, hd});
    outs.push_back(h_proj(o.slice(1, 0, L)));
  }
  if (l_heads > 0) {  // Lo-Fi: every query attends to the window-averaged keys / values (valid tokens only)
    const int64_t ld = l_heads * d;
    const at::Tensor q = l_q(xz).reshape({B, L, l_heads, d}).permute({0, 2, 1, 3});
    const at::Tensor valid = pad.logical_not().to(x.dtype()).view({B, nw, w, 1});
    const at::Tensor xs = F::pad(xz, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, nw, w, -1});
    const at::Tensor cnt = valid.sum(2);  // [B, nw, 1]
    const at::Tensor pooled = (xs * valid).sum(2) / cnt.clamp_min(1.0);  // [B, nw, C]
    const auto kv = l_kv(pooled).reshape({B, nw, 2, l_heads, d}).permute({2, 0, 3, 1, 4});
    at::Tensor logits = torch::matmul(q * scale, kv[0].transpose(-2, -1));  // [B, h, L, nw]
    logits = logits.masked_fill(cnt.view({B, 1, 1, nw}).eq(0), seq::kNegInf);
    outs.push_back(l_proj(seq::merge(torch::matmul(seq::safe_softmax(logits), kv[1]), B, L, ld)));
  }
  return zero_padding(torch::cat(outs, -1), mask);
}

void register_litv2_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"hilo", "HiLo1D (LITv2): alpha of the heads on window-pooled keys, the rest inside windows of `window`",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(HiLo1D(HiLo1DOptions(s.dim, s.num_heads).window(s.window).alpha(s.alpha)));
               }});
}

}  // namespace attnzoo::modules
