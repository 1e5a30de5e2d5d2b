#include <attnzoo/modules/bottleneck_attn.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

BottleneckAttentionImpl::BottleneckAttentionImpl(const BottleneckAttentionOptions& options_) : options(options_) {
  reset();
}

void BottleneckAttentionImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.feat_size().size() == 2 && o.feat_size()[0] > 0 && o.feat_size()[1] > 0,
              "BottleneckAttention: a concrete feat_size [H, W] is required (the model's img_size), got ",
              o.feat_size().size(), " values");
  dim_out = o.dim_out() > 0 ? o.dim_out() : o.dim();
  TORCH_CHECK(o.num_heads() > 0 && dim_out % o.num_heads() == 0, "BottleneckAttention: dim_out ", dim_out,
              " is not divisible by num_heads ", o.num_heads());
  TORCH_CHECK(o.stride() == 1 || o.stride() == 2, "BottleneckAttention: stride must be 1 or 2, got ", o.stride());
  dim_head_qk = o.dim_head() > 0 ? o.dim_head()
                                 : make_divisible(static_cast<double>(dim_out) * o.qk_ratio(), 8) / o.num_heads();
  dim_head_v = dim_out / o.num_heads();
  scale = std::pow(static_cast<double>(dim_head_qk), -0.5);
  qkv = register_module("qkv", nn::Conv2d(nn::Conv2dOptions(o.dim(), o.num_heads() * (2 * dim_head_qk + dim_head_v), 1)
                                               .bias(o.qkv_bias())));
  const std::array<int64_t, 2> fs{o.feat_size()[0], o.feat_size()[1]};
  pos_embed = register_module("pos_embed", RelPosEmbed2d(fs, fs, dim_head_qk));
  reset_parameters();
}

void BottleneckAttentionImpl::reset_parameters() {
  trunc_normal_(qkv->weight, std::pow(static_cast<double>(qkv->weight.size(1)), -0.5));
  trunc_normal_(pos_embed->height_rel, scale);
  trunc_normal_(pos_embed->width_rel, scale);
}

at::Tensor BottleneckAttentionImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.dim(), "BottleneckAttention: expected input [B, ", o.dim(),
              ", H, W], got ", x.sizes());
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), heads = o.num_heads();
  TORCH_CHECK(H == o.feat_size()[0] && W == o.feat_size()[1], "BottleneckAttention: input map ", H, "x", W,
              " differs from the feat_size ", o.feat_size()[0], "x", o.feat_size()[1],
              " it was built for (a fixed-input-size model: use its img_size)");
  const auto parts = qkv(x).split_with_sizes({heads * dim_head_qk, heads * dim_head_qk, heads * dim_head_v}, 1);
  const at::Tensor q = parts[0].reshape({B * heads, dim_head_qk, -1}).transpose(-1, -2);
  const at::Tensor k = parts[1].reshape({B * heads, dim_head_qk, -1});
  const at::Tensor v = parts[2].reshape({B * heads, dim_head_v, -1}).transpose(-1, -2);
  at::Tensor attn;
  if (o.scale_pos_embed())
    attn = (torch::matmul(q, k) + pos_embed(q)) * scale;
  else
    attn = torch::matmul(q, k) * scale + pos_embed(q);
  attn = attn.softmax(-1);
  if (AttentionRecord* r = record_attention(this, "softmax", attn.view({B, heads, H * W, H * W})))
    set_global_geometry(*r, {H, W}, {H, W});
  at::Tensor out = torch::matmul(attn, v).transpose(-1, -2).reshape({B, heads * dim_head_v, H, W});
  if (o.stride() == 2) out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(2).stride(2));
  return out;
}

LambdaLayerImpl::LambdaLayerImpl(const LambdaLayerOptions& options_) : options(options_) { reset(); }

void LambdaLayerImpl::reset() {
  const auto& o = options;
  dim_out = o.dim_out() > 0 ? o.dim_out() : o.dim();
  TORCH_CHECK(o.num_heads() > 0 && dim_out % o.num_heads() == 0, "LambdaLayer: dim_out ", dim_out,
              " is not divisible by num_heads ", o.num_heads());
  TORCH_CHECK(o.stride() == 1 || o.stride() == 2, "LambdaLayer: stride must be 1 or 2, got ", o.stride());
  dim_qk = o.dim_head() > 0 ? o.dim_head() : make_divisible(static_cast<double>(dim_out) * o.qk_ratio(), 8) / o.num_heads();
  dim_v = dim_out / o.num_heads();
  if (o.r() <= 0) {
    // Relative position variant: a learned embedding per (dy, dx) over a fixed map.
    TORCH_CHECK(o.feat_size().size() == 2 && o.feat_size()[0] > 0 && o.feat_size()[1] > 0,
                "LambdaLayer: r = None needs a concrete feat_size [H, W] (the model's img_size)");
    const int64_t fh = o.feat_size()[0], fw = o.feat_size()[1];
    pos_emb = register_parameter("pos_emb", torch::zeros({2 * fh - 1, 2 * fw - 1, dim_qk}));
    // rel_pos_indices: pos[:, None, :] - pos[:, :, None] + (size - 1); entry [a, i, j] = pos_a[j] - pos_a[i].
    const auto idx = torch::arange(fh * fw, torch::kLong);
    const auto rows = idx.div(fw, "floor"), cols = idx.remainder(fw);
    rel_index_ = torch::stack({rows.unsqueeze(0) - rows.unsqueeze(1) + (fh - 1),
                               cols.unsqueeze(0) - cols.unsqueeze(1) + (fw - 1)});
  }
  qkv = register_module("qkv", nn::Conv2d(nn::Conv2dOptions(o.dim(), o.num_heads() * dim_qk + dim_qk + dim_v, 1)
                                               .bias(o.qkv_bias())));
  norm_q = register_module("norm_q", BatchNorm2d(o.num_heads() * dim_qk));
  norm_v = register_module("norm_v", BatchNorm2d(dim_v));
  if (o.r() > 0) {
    const int64_t r = o.r();
    conv_lambda = register_module(
        "conv_lambda", nn::Conv3d(nn::Conv3dOptions(1, dim_qk, {r, r, 1}).padding({r / 2, r / 2, 0})));
  }
  reset_parameters();
}

void LambdaLayerImpl::reset_parameters() {
  trunc_normal_(qkv->weight, std::pow(static_cast<double>(qkv->weight.size(1)), -0.5));
  if (conv_lambda) trunc_normal_(conv_lambda->weight, std::pow(static_cast<double>(dim_qk), -0.5));
  if (pos_emb.defined()) trunc_normal_(pos_emb, 0.02);
}

at::Tensor LambdaLayerImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.dim(), "LambdaLayer: expected input [B, ", o.dim(), ", H, W], got ",
              x.sizes());
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), M = H * W, heads = o.num_heads();
  if (pos_emb.defined())
    TORCH_CHECK(H == o.feat_size()[0] && W == o.feat_size()[1], "LambdaLayer: input map ", H, "x", W,
                " differs from the feat_size ", o.feat_size()[0], "x", o.feat_size()[1], " it was built for");
  const auto parts = qkv(x).split_with_sizes({heads * dim_qk, dim_qk, dim_v}, 1);
  const at::Tensor q = norm_q(parts[0]).reshape({B, heads, dim_qk, M}).transpose(-1, -2);  // B, h, M, K
  const at::Tensor v = norm_v(parts[2]).reshape({B, dim_v, M}).transpose(-1, -2);         // B, M, V
  const at::Tensor k = parts[1].reshape({B, dim_qk, M}).softmax(-1);                      // B, K, M
  const at::Tensor content_lam = torch::matmul(k, v);                                     // B, K, V
  const at::Tensor content_out = torch::matmul(q, content_lam.unsqueeze(1));               // B, h, M, V
  at::Tensor position_lam;
  if (!pos_emb.defined()) {
    position_lam = conv_lambda(v.reshape({B, 1, H, W, dim_v}));  // B, K, H, W, V
    position_lam = position_lam.reshape({B, 1, dim_qk, H * W, dim_v}).transpose(2, 3);  // B, 1, M, K, V
  } else {
    const at::Tensor ri = rel_index_.to(x.device());
    const at::Tensor pe = pos_emb.index({ri[0], ri[1]}).expand({B, -1, -1, -1});  // B, M, M, K
    position_lam = torch::matmul(pe.transpose(-1, -2), v.unsqueeze(1)).unsqueeze(1);  // B, 1, M, K, V
  }
  const at::Tensor position_out = torch::matmul(q.unsqueeze(-2), position_lam).squeeze(-2);  // B, h, M, V
  at::Tensor out = (content_out + position_out).transpose(-1, -2).reshape({B, heads * dim_v, H, W});
  if (o.stride() == 2) out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(2).stride(2));
  return out;
}

}  // namespace attnzoo::modules
