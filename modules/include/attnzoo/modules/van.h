#pragma once
// VAN's Large Kernel Attention (Guo et al., "Visual Attention Network", arXiv 2202.09741).
//
// A K x K convolution is decomposed into a depthwise conv (5x5), a depthwise dilated conv
// (7x7, dilation 3: receptive field 19x19 here, 21 in the paper's notation) and a 1x1 conv; the result
// gates the input element-wise. Submodule names follow the official code so checkpoints load unchanged.
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/options/van.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// attn = conv1(conv_spatial(conv0(x))); y = x * attn. NCHW in and out, same size.
class LKAImpl : public torch::nn::Cloneable<LKAImpl> {
 public:
  explicit LKAImpl(const LKAOptions& options);
  explicit LKAImpl(int64_t dim) : LKAImpl(LKAOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LKA", options); }
  at::Tensor forward(const at::Tensor& x);

  LKAOptions options;
  torch::nn::Conv2d conv0{nullptr};
  torch::nn::Conv2d conv_spatial{nullptr};
  torch::nn::Conv2d conv1{nullptr};
};
TORCH_MODULE(LKA);

/// VAN's "Attention" (the paper's spatial attention): proj_2(LKA(GELU(proj_1(x)))) + x.
/// Submodules: proj_1, spatial_gating_unit (LKA), proj_2.
class LKAAttentionImpl : public torch::nn::Cloneable<LKAAttentionImpl> {
 public:
  explicit LKAAttentionImpl(const LKAAttentionOptions& options);
  explicit LKAAttentionImpl(int64_t d_model) : LKAAttentionImpl(LKAAttentionOptions(d_model)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LKAAttention", options); }
  at::Tensor forward(const at::Tensor& x);

  LKAAttentionOptions options;
  torch::nn::Conv2d proj_1{nullptr};
  LKA spatial_gating_unit{nullptr};
  torch::nn::Conv2d proj_2{nullptr};
};
TORCH_MODULE(LKAAttention);

/// VAN Block: x + ls1 * DropPath(attn(BN(x))); then x + ls2 * DropPath(mlp(BN(x))).
/// Keys: layer_scale_1, layer_scale_2, norm1, attn, norm2, mlp.
class VANBlockImpl : public torch::nn::Cloneable<VANBlockImpl> {
 public:
  explicit VANBlockImpl(const VANBlockOptions& options);
  explicit VANBlockImpl(int64_t dim) : VANBlockImpl(VANBlockOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::VANBlock", options); }
  at::Tensor forward(const at::Tensor& x);

  VANBlockOptions options;
  at::Tensor layer_scale_1, layer_scale_2;
  BatchNorm2d norm1{nullptr};
  LKAAttention attn{nullptr};
  DropPath drop_path{nullptr};
  BatchNorm2d norm2{nullptr};
  DWConvMlp mlp{nullptr};
};
TORCH_MODULE(VANBlock);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class LKA1DImpl : public torch::nn::Cloneable<LKA1DImpl> {
 public:
  explicit LKA1DImpl(const LKA1DOptions& options);
  explicit LKA1DImpl(int64_t dim) : LKA1DImpl(LKA1DOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LKA1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  LKA1DOptions options;
  torch::nn::Conv1d conv0{nullptr}, conv_spatial{nullptr}, conv1{nullptr};
};
TORCH_MODULE(LKA1D);

}  // namespace attnzoo::modules
