#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/fused_attention.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;

MultiHeadSelfAttentionImpl::MultiHeadSelfAttentionImpl(const MultiHeadSelfAttentionOptions& options_) : options(options_) {
  reset();
}

void MultiHeadSelfAttentionImpl::reset() {
  TORCH_CHECK(options.dim() % options.num_heads() == 0, "MultiHeadSelfAttention: dim ", options.dim(),
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(options.dim(), 3 * options.dim()).bias(options.qkv_bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(options.dim(), options.dim()));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
}

at::Tensor scaled_dot_product(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              nn::Dropout& attn_drop) {
  // Without an active attention dropout the fused kernel computes the same thing (same order of operations).
  if (!attn_drop->is_training() || attn_drop->options.p() == 0.0) {
    return softmax_attention(q, k, v, scale);
  }
  // (q k^T) * scale, in that order, as the official ViT/ConViT code does (matters at float64 rounding).
  at::Tensor attn = torch::matmul(q, k.transpose(-2, -1)) * scale;
  attn = attn_drop(attn.softmax(-1));
  return torch::matmul(attn, v);
}

at::Tensor MultiHeadSelfAttentionImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "MultiHeadSelfAttention: expected [B, N, ", options.dim(),
              "], got ", x.sizes());
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads();
  const double scale = options.qk_scale() > 0 ? options.qk_scale() : std::pow(static_cast<double>(C / H), -0.5);
  auto qkv_ = qkv(x).reshape({B, N, 3, H, C / H}).permute({2, 0, 3, 1, 4});
  if (capturing_attention())  // the rows the output uses, for `viz attention`; geometry: the caller's
    record_attention(this, "softmax", (torch::matmul(qkv_[0], qkv_[1].transpose(-2, -1)) * scale).softmax(-1));
  auto y = scaled_dot_product(qkv_[0], qkv_[1], qkv_[2], scale, attn_drop);
  return proj_drop(proj(y.transpose(1, 2).reshape({B, N, C})));
}

}  // namespace attnzoo::modules
