#pragma once
// LITv2's HiLo attention (Pan et al., NeurIPS 2022, arXiv 2205.13213), official code ziplab/LITv2:
// alpha of the heads (Lo-Fi) attend from every token to average-pooled keys/values; the rest (Hi-Fi)
// attend inside ws x ws windows. Outputs are concatenated, Hi-Fi channels first. Tokens [B, N, C].
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/litv2.h>
#include <attnzoo/modules/deform_conv.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace attnzoo::modules {

/// Keys: l_q, l_kv, l_proj (when Lo-Fi heads exist), h_qkv, h_proj (when Hi-Fi heads exist).
class HiLoImpl : public torch::nn::Cloneable<HiLoImpl> {
 public:
  explicit HiLoImpl(const HiLoOptions& options);
  explicit HiLoImpl(int64_t dim) : HiLoImpl(HiLoOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::HiLo", options); }
  /// x [B, H*W, C]. H and W need not be multiples of window_size: the map is zero-padded at the
  /// bottom/right before both branches and cropped after (the official detection rule; the
  /// classification copy requires divisible sizes, where both agree).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  HiLoOptions options;
  int64_t head_dim = 0, l_heads = 0, h_heads = 0;
  torch::nn::Linear l_q{nullptr}, l_kv{nullptr}, l_proj{nullptr}, h_qkv{nullptr}, h_proj{nullptr};
};
TORCH_MODULE(HiLo);

/// LITv2 DWMlp on square token maps: fc1 (Linear) -> depthwise 3x3 -> GELU -> fc2. Keys fc1, dwconv.dwconv, fc2.
class TokenDWMlpImpl : public torch::nn::Cloneable<TokenDWMlpImpl> {
 public:
  explicit TokenDWMlpImpl(const TokenDWMlpOptions& options) : options(options) { reset(); }
  TokenDWMlpImpl(int64_t in_features, int64_t hidden_features)
      : TokenDWMlpImpl(TokenDWMlpOptions(in_features, hidden_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);
  TokenDWMlpOptions options;
  torch::nn::Linear fc1{nullptr};
  DWConv dwconv{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(TokenDWMlp);

/// LITv2 Block (HiLo + DWMlp) or ConvFFNBlock. Keys: [norm1, attn], norm2, mlp.
class LITBlockImpl : public torch::nn::Cloneable<LITBlockImpl> {
 public:
  explicit LITBlockImpl(const LITBlockOptions& options);
  LITBlockImpl(int64_t dim, int64_t num_heads) : LITBlockImpl(LITBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LITBlock", options); }
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  LITBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  HiLo attn{nullptr};
  DropPath drop_path{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  TokenDWMlp mlp{nullptr};
};
TORCH_MODULE(LITBlock);

class DTMImpl : public torch::nn::Cloneable<DTMImpl> {
 public:
  explicit DTMImpl(const DTMOptions& options) : options(options) { reset(); }
  explicit DTMImpl(int64_t dim) : DTMImpl(DTMOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { os << "attnzoo::DTM(dim=" << options.dim() << ")"; }
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  DTMOptions options;
  DeformConv2dPack dconv{nullptr};
  BatchNorm2d norm_layer{nullptr};
};
TORCH_MODULE(DTM);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class HiLo1DImpl : public torch::nn::Cloneable<HiLo1DImpl> {
 public:
  explicit HiLo1DImpl(const HiLo1DOptions& options);
  HiLo1DImpl(int64_t dim, int64_t num_heads) : HiLo1DImpl(HiLo1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::HiLo1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  HiLo1DOptions options;
  int64_t l_heads = 0, h_heads = 0, head_dim = 0;
  torch::nn::Linear l_q{nullptr}, l_kv{nullptr}, l_proj{nullptr}, h_qkv{nullptr}, h_proj{nullptr};
};
TORCH_MODULE(HiLo1D);

}  // namespace attnzoo::modules
