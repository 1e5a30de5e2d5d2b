#pragma once
// LITv2's HiLo attention (Pan et al., NeurIPS 2022, arXiv 2205.13213), official code ziplab/LITv2:
// alpha of the heads (Lo-Fi) attend from every token to average-pooled keys/values; the rest (Hi-Fi)
// attend inside ws x ws windows. Outputs are concatenated, Hi-Fi channels first. Tokens [B, N, C].
#include <attnzoo/modules/deform_conv.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace attnzoo::modules {

struct HiLoOptions {
  explicit HiLoOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0 = head_dim ** -0.5
  TORCH_ARG(int64_t, window_size) = 2;  // 1: all heads Lo-Fi without pooling (plain MSA)
  TORCH_ARG(double, alpha) = 0.5;       // fraction of Lo-Fi heads: l_heads = int(num_heads * alpha)
};

/// The official constructor arguments of HiLo (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(HiLoOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.ignored("attn_drop", 0.0);
  v.ignored("proj_drop", 0.0);
  v.arg("window_size", o.window_size());
  v.arg("alpha", o.alpha());
}

/// Keys: l_q, l_kv, l_proj (when Lo-Fi heads exist), h_qkv, h_proj (when Hi-Fi heads exist).
class HiLoImpl : public torch::nn::Cloneable<HiLoImpl> {
 public:
  explicit HiLoImpl(const HiLoOptions& options);
  void reset() override;
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
  TokenDWMlpImpl(int64_t dim, int64_t hidden) : dim_(dim), hidden_(hidden) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);
  torch::nn::Linear fc1{nullptr};
  DWConv dwconv{nullptr};
  torch::nn::Linear fc2{nullptr};

 private:
  int64_t dim_, hidden_;
};
TORCH_MODULE(TokenDWMlp);

struct LITBlockOptions {
  LITBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(int64_t, local_ws) = 1;
  TORCH_ARG(double, alpha) = 0.5;
  TORCH_ARG(bool, has_msa) = true;  // false: ConvFFNBlock (DWMlp only)
};

/// The official constructor arguments of LITBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(LITBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.ignored("drop", 0.0);
  v.ignored("attn_drop", 0.0);
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.ignored("norm_layer", "nn.LayerNorm");
  v.arg("local_ws", o.local_ws());
  v.arg("alpha", o.alpha());
}

/// LITv2 Block (HiLo + DWMlp) or ConvFFNBlock. Keys: [norm1, attn], norm2, mlp.
class LITBlockImpl : public torch::nn::Cloneable<LITBlockImpl> {
 public:
  explicit LITBlockImpl(const LITBlockOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  LITBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  HiLo attn{nullptr};
  DropPath drop_path{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  TokenDWMlp mlp{nullptr};
};
TORCH_MODULE(LITBlock);

/// Deformable token merging: tokens -> NCHW -> DeformConv2dPack(C, 2C, 2, 2) -> BatchNorm2d -> GELU -> tokens.
/// Keys: dconv.{weight, bias, conv_offset}, norm_layer.
struct DTMOptions {
  explicit DTMOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

/// The official constructor arguments of DTM but input_resolution, which forward() takes as H, W.
template <class V>
void visit_args(DTMOptions& o, V& v) {
  v.required("dim", o.dim());
  v.ignored("norm_layer", "nn.LayerNorm");  // unused: the official DTM always uses BatchNorm2d
}

class DTMImpl : public torch::nn::Cloneable<DTMImpl> {
 public:
  explicit DTMImpl(const DTMOptions& options) : options(options) { reset(); }
  explicit DTMImpl(int64_t dim) : DTMImpl(DTMOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { os << "attnzoo::DTM(dim=" << options.dim() << ")"; }
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  DTMOptions options;
  DeformConv2dPack dconv{nullptr};
  torch::nn::BatchNorm2d norm_layer{nullptr};
};
TORCH_MODULE(DTM);

}  // namespace attnzoo::modules
