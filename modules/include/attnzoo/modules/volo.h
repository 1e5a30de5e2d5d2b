#pragma once
// VOLO (sail-sg/volo models/volo.py; timm's volo.py has the same keys), one class per official class:
//  - OutlookAttention   outlook attention on NHWC maps
//  - Outlooker          its block (stage 1)
//  - VOLOTransformer    `Transformer`: MHSA block on NHWC maps (stage 2)
//  - ClassAttention     CaiT's class attention (post network)
//  - ClassBlock         its block
//  - VOLOPatchEmbed     `PatchEmbed`: conv stem + patch projection
//  - VOLODownsample     `Downsample`: stride-`patch_size` conv between the stages, NHWC in and out
//  - OutlookAttention1D attnzoo's 1-D form (sequences; `volo` sequence attention)
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/options/volo.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

class OutlookAttentionImpl : public torch::nn::Cloneable<OutlookAttentionImpl> {
 public:
  explicit OutlookAttentionImpl(const OutlookAttentionOptions& options);
  OutlookAttentionImpl(int64_t dim, int64_t num_heads) : OutlookAttentionImpl(OutlookAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::OutlookAttention", options); }
  /// x [B, H, W, C] -> [B, H, W, C].
  at::Tensor forward(const at::Tensor& x);
  /// The softmaxed outlook weights [B, heads, h*w, k*k, k*k] (h, w = ceil(H / stride), ceil(W / stride)).
  at::Tensor attention(const at::Tensor& x);

  OutlookAttentionOptions options;
  torch::nn::Linear v{nullptr}, attn{nullptr}, proj{nullptr};
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
};
TORCH_MODULE(OutlookAttention);

class OutlookerImpl : public torch::nn::Cloneable<OutlookerImpl> {
 public:
  explicit OutlookerImpl(const OutlookerOptions& options);
  OutlookerImpl(int64_t dim, int64_t kernel_size, int64_t padding) : OutlookerImpl(OutlookerOptions(dim, kernel_size, padding)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::Outlooker", options); }
  at::Tensor forward(const at::Tensor& x);

  OutlookerOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  OutlookAttention attn{nullptr};
  DropPath drop_path{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Outlooker);

class VOLOTransformerImpl : public torch::nn::Cloneable<VOLOTransformerImpl> {
 public:
  explicit VOLOTransformerImpl(const VOLOTransformerOptions& options);
  VOLOTransformerImpl(int64_t dim, int64_t num_heads) : VOLOTransformerImpl(VOLOTransformerOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::VOLOTransformer", options); }
  /// x [B, H, W, C].
  at::Tensor forward(const at::Tensor& x);

  VOLOTransformerOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  MultiHeadSelfAttention attn{nullptr};
  DropPath drop_path{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(VOLOTransformer);

class ClassAttentionImpl : public torch::nn::Cloneable<ClassAttentionImpl> {
 public:
  explicit ClassAttentionImpl(const ClassAttentionOptions& options);
  ClassAttentionImpl(int64_t dim, int64_t num_heads) : ClassAttentionImpl(ClassAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ClassAttention", options); }
  /// x [B, N, C] (token 0 = class token) -> the new class embedding [B, 1, C].
  at::Tensor forward(const at::Tensor& x);

  ClassAttentionOptions options;
  torch::nn::Linear kv{nullptr}, q{nullptr}, proj{nullptr};
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
};
TORCH_MODULE(ClassAttention);

class ClassBlockImpl : public torch::nn::Cloneable<ClassBlockImpl> {
 public:
  explicit ClassBlockImpl(const ClassBlockOptions& options);
  ClassBlockImpl(int64_t dim, int64_t num_heads) : ClassBlockImpl(ClassBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ClassBlock", options); }
  /// x [B, N, C] -> [B, N, C] with token 0 updated.
  at::Tensor forward(const at::Tensor& x);

  ClassBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  ClassAttention attn{nullptr};
  DropPath drop_path{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ClassBlock);

class OutlookAttention1DImpl : public torch::nn::Cloneable<OutlookAttention1DImpl> {
 public:
  explicit OutlookAttention1DImpl(const OutlookAttention1DOptions& options);
  OutlookAttention1DImpl(int64_t dim, int64_t num_heads) : OutlookAttention1DImpl(OutlookAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::OutlookAttention1D", options); }
  /// x [B, L, C], key padding mask [B, L] (true = padding).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  OutlookAttention1DOptions options;
  torch::nn::Linear v{nullptr}, attn{nullptr}, proj{nullptr};
};
TORCH_MODULE(OutlookAttention1D);

class VOLOPatchEmbedImpl : public torch::nn::Cloneable<VOLOPatchEmbedImpl> {
 public:
  explicit VOLOPatchEmbedImpl(const VOLOPatchEmbedOptions& options = {});
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::VOLOPatchEmbed", options); }
  /// x [B, in_chans, H, W] -> [B, embed_dim, H / patch_size, W / patch_size].
  at::Tensor forward(const at::Tensor& x);

  VOLOPatchEmbedOptions options;
  torch::nn::Sequential conv{nullptr};
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(VOLOPatchEmbed);

class VOLODownsampleImpl : public torch::nn::Cloneable<VOLODownsampleImpl> {
 public:
  VOLODownsampleImpl(int64_t in_embed_dim, int64_t out_embed_dim, int64_t patch_size)
      : in_embed_dim(in_embed_dim), out_embed_dim(out_embed_dim), patch_size(patch_size) {
    reset();
  }
  void reset() override;
  /// x [B, H, W, C] -> [B, H / p, W / p, C'].
  at::Tensor forward(const at::Tensor& x);

  int64_t in_embed_dim, out_embed_dim, patch_size;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(VOLODownsample);

}  // namespace attnzoo::modules
