#pragma once
// Global 2-D self-attention layers of timm's byoanet hybrids:
//  - BottleneckAttention: BoTNet's multi-head self-attention over the whole (fixed-size) map with
//    relative position logits (Srinivas et al., arXiv 2101.11605; timm BottleneckAttn).
//    Keys: qkv (1x1 conv), pos_embed.height_rel, pos_embed.width_rel.
//  - LambdaLayer: LambdaNetworks (Bello, arXiv 2102.08602; timm LambdaLayer): a content lambda
//    softmax(k) v^T shared by all queries plus a positional lambda from a local Conv3d of radius r
//    (or relative position embeddings when r == 0). Keys: qkv, norm_q, norm_v, conv_lambda | pos_emb.
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/byobnet.h>
#include <attnzoo/modules/rel_pos.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

class BottleneckAttentionImpl : public torch::nn::Cloneable<BottleneckAttentionImpl> {
 public:
  explicit BottleneckAttentionImpl(const BottleneckAttentionOptions& options);
  BottleneckAttentionImpl(int64_t dim, std::vector<int64_t> feat_size)
      : BottleneckAttentionImpl(BottleneckAttentionOptions(dim, feat_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::BottleneckAttention", options); }
  void reset_parameters();
  /// x [B, dim, H, W] with (H, W) == feat_size -> [B, dim_out, H / stride, W / stride].
  at::Tensor forward(const at::Tensor& x);

  BottleneckAttentionOptions options;
  int64_t dim_out = 0, dim_head_qk = 0, dim_head_v = 0;
  double scale = 1.0;
  torch::nn::Conv2d qkv{nullptr};
  RelPosEmbed2d pos_embed{nullptr};
};
TORCH_MODULE(BottleneckAttention);

class LambdaLayerImpl : public torch::nn::Cloneable<LambdaLayerImpl> {
 public:
  explicit LambdaLayerImpl(const LambdaLayerOptions& options);
  explicit LambdaLayerImpl(int64_t dim) : LambdaLayerImpl(LambdaLayerOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LambdaLayer", options); }
  void reset_parameters();
  /// x [B, dim, H, W] -> [B, dim_out, H / stride, W / stride].
  at::Tensor forward(const at::Tensor& x);

  LambdaLayerOptions options;
  int64_t dim_out = 0, dim_qk = 0, dim_v = 0;
  at::Tensor pos_emb;  // [2H - 1, 2W - 1, dim_qk] when r == 0
  torch::nn::Conv2d qkv{nullptr};
  BatchNorm2d norm_q{nullptr};
  BatchNorm2d norm_v{nullptr};
  torch::nn::Conv3d conv_lambda{nullptr};

 private:
  at::Tensor rel_index_;  // [2, M, M] (r == 0)
};
TORCH_MODULE(LambdaLayer);

}  // namespace attnzoo::modules
