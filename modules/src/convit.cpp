#include <attnzoo/modules/convit.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

at::Tensor gpsa_relative_indices(int64_t n, const at::TensorOptions& opts) {
  const int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  TORCH_CHECK(s * s == n, "GPSA needs a square grid of patch tokens, got N = ", n, " (no class token allowed)");
  auto idx = torch::arange(s, opts);
  auto ind = idx.view({1, -1}) - idx.view({-1, 1});  // ind[i][j] = j - i
  auto indx = ind.repeat({s, s});
  auto indy = ind.repeat_interleave(s, 0).repeat_interleave(s, 1);
  auto indd = indx * indx + indy * indy;
  return torch::stack({indx, indy, indd}, -1).unsqueeze(0);
}

GPSAImpl::GPSAImpl(const GPSAOptions& options_) : options(options_) { reset(); }

void GPSAImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(C % H == 0, "GPSA: dim ", C, " is not divisible by num_heads ", H);
  gating_param = register_parameter("gating_param", torch::ones({H}));
  qk = register_module("qk", nn::Linear(nn::LinearOptions(C, 2 * C).bias(options.qkv_bias())));
  v = register_module("v", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(C, C));
  pos_proj = register_module("pos_proj", nn::Linear(3, H));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
  init_vit_weights(*this);
  if (options.use_local_init()) local_init();
}

void GPSAImpl::local_init() {
  torch::NoGradGuard ng;
  v->weight.copy_(torch::eye(options.dim(), v->weight.options()));
  const int64_t H = options.num_heads();
  const int64_t k = static_cast<int64_t>(std::sqrt(static_cast<double>(H)));
  const double c = k % 2 == 0 ? (k - 1) / 2.0 : static_cast<double>(k / 2);
  for (int64_t h1 = 0; h1 < k; ++h1)
    for (int64_t h2 = 0; h2 < k; ++h2) {
      const int64_t pos = h1 + k * h2;
      pos_proj->weight[pos][2] = -1.0;
      pos_proj->weight[pos][1] = 2.0 * (h1 - c);
      pos_proj->weight[pos][0] = 2.0 * (h2 - c);
    }
  pos_proj->weight.mul_(options.locality_strength());
}

at::Tensor GPSAImpl::attention(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "GPSA: expected [B, N, ", options.dim(), "], got ", x.sizes());
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads();
  const double scale = options.qk_scale() > 0 ? options.qk_scale() : std::pow(static_cast<double>(C / H), -0.5);
  auto qk_ = qk(x).reshape({B, N, 2, H, C / H}).permute({2, 0, 3, 1, 4});
  // The relative indices depend only on N (the official code caches them); computed in x's dtype.
  auto rel = gpsa_relative_indices(N, x.options());
  auto pos_score = pos_proj(rel).permute({0, 3, 1, 2}).softmax(-1);  // [1, H, N, N]
  auto patch_score = (torch::matmul(qk_[0], qk_[1].transpose(-2, -1)) * scale).softmax(-1);
  auto g = torch::sigmoid(gating_param.view({1, -1, 1, 1}));
  auto attn = (1.0 - g) * patch_score + g * pos_score;
  attn = attn / attn.sum(-1).unsqueeze(-1);  // the official in-place renormalisation
  return attn_drop(attn);
}

at::Tensor GPSAImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads();
  auto attn = attention(x);
  if (AttentionRecord* r = record_attention(this, "gpsa", attn)) {
    set_square_grid_geometry(*r, N);
    const at::Tensor gate = torch::sigmoid(gating_param.detach()).to(torch::kCPU, torch::kFloat64);
    for (int64_t h = 0; h < H; ++h) {
      char label[32];
      std::snprintf(label, sizeof label, "gate %.2f", gate[h].item<double>());  // 1: positional, 0: content
      r->head_labels.push_back(label);
    }
  }
  auto v_ = v(x).reshape({B, N, H, C / H}).permute({0, 2, 1, 3});
  return proj_drop(proj(torch::matmul(attn, v_).transpose(1, 2).reshape({B, N, C})));
}

namespace nn = torch::nn;

ConViTBlockImpl::ConViTBlockImpl(const ConViTBlockOptions& options_) : options(options_) { reset(); }

void ConViTBlockImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  if (options.use_gpsa()) {
    gpsa = register_module("attn", GPSA(GPSAOptions(C, options.num_heads())
                                            .qkv_bias(options.qkv_bias())
                                            .qk_scale(options.qk_scale())
                                            .attn_drop(options.attn_drop())
                                            .proj_drop(options.drop())
                                            .locality_strength(options.locality_strength())));
  } else {
    mhsa = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, options.num_heads())
                                                              .qkv_bias(options.qkv_bias())
                                                              .qk_scale(options.qk_scale())
                                                              .attn_drop(options.attn_drop())
                                                              .proj_drop(options.drop())));
  }
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", Mlp(MlpOptions(C).hidden_features(static_cast<int64_t>(C * options.mlp_ratio())).drop(options.drop())));
}

at::Tensor ConViTBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor h = norm1(x);
  at::Tensor y = x + drop_path(gpsa ? gpsa(h) : mhsa(h));
  if (AttentionRecord* r = mhsa ? latest_attention_record(mhsa.get()) : nullptr) set_square_grid_geometry(*r, x.size(1));
  return y + drop_path(mlp(norm2(y)));
}

void register_convit_modules(ModuleEntries& e) {
  // The C++ constructors take num_heads, so it is required here (Python defaults it to 8).
  e.push_back(module_entry<GPSA>("convit", "GPSA", "attnzoo::modules::GPSA", "ConViT gated positional self-attention",
                                 GPSAOptions(0, 0)));
  e.push_back(module_entry<MultiHeadSelfAttention>("convit", "MHSA", "attnzoo::modules::MultiHeadSelfAttention",
                                                   "plain multi-head self-attention (ViT/ConViT)",
                                                   MultiHeadSelfAttentionOptions(0, 0)));
  e.push_back(module_entry<ConViTBlock>("convit", "Block", "attnzoo::modules::ConViTBlock",
                                        "ConViT block (pre-norm GPSA or MHSA + Mlp)", ConViTBlockOptions(0, 0)));
}

}  // namespace attnzoo::modules
