#pragma once
// Halo attention (Vaswani et al., "Scaling Local Self-Attention for Parameter Efficient Visual
// Backbones", arXiv 2103.12731), as timm's HaloAttn (the paper's code was never released).
//
// The map is cut into non-overlapping query blocks of block_size; every block attends to the
// block_size + 2 * halo_size window around it (zero padded at the border, padded keys NOT masked,
// as in timm), with relative position logits per axis. Stride 2 subsamples the queries with a strided
// 1x1 q-conv (even block sizes) or average-pools the output (avg_down or odd block sizes).
// Keys: q, kv (1x1 convs), pos_embed.height_rel, pos_embed.width_rel.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/halo_attn.h>
#include <attnzoo/modules/options/byobnet.h>
#include <attnzoo/modules/rel_pos.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

class HaloAttentionImpl : public torch::nn::Cloneable<HaloAttentionImpl> {
 public:
  explicit HaloAttentionImpl(const HaloAttentionOptions& options);
  explicit HaloAttentionImpl(int64_t dim) : HaloAttentionImpl(HaloAttentionOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::HaloAttention", options); }
  /// timm reset_parameters: q/kv trunc_normal(fan_in^-0.5), rel tables trunc_normal(scale).
  void reset_parameters();
  /// x [B, dim, H, W] (H, W multiples of block_size) -> [B, dim_out, H / stride, W / stride].
  at::Tensor forward(const at::Tensor& x);

  HaloAttentionOptions options;
  int64_t dim_out = 0, dim_head_qk = 0, dim_head_v = 0, win_size = 0, block_stride = 1, block_size_ds = 0;
  double scale = 1.0;
  bool avg_pool = false;
  torch::nn::Conv2d q{nullptr};
  torch::nn::Conv2d kv{nullptr};
  RelPosEmbed2d pos_embed{nullptr};
};
TORCH_MODULE(HaloAttention);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class BlockLocalAttention1DImpl : public torch::nn::Cloneable<BlockLocalAttention1DImpl> {
 public:
  explicit BlockLocalAttention1DImpl(const BlockLocalAttention1DOptions& options);
  BlockLocalAttention1DImpl(int64_t dim, int64_t num_heads)
      : BlockLocalAttention1DImpl(BlockLocalAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::BlockLocalAttention1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  BlockLocalAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(BlockLocalAttention1D);

}  // namespace attnzoo::modules
