#pragma once
// The refactored, NCHW bi-level routing attention of BiFormer (ops/bra_nchw.py nchwBRA +
// ops/torch/rrsda.py regional_routing_attention_torch), used by biformer_stl_nchw. It is NOT the
// legacy BRA (biformer.h) with another layout: regions are (H // n_win, W // n_win) and ceil-pooled with
// count_include_pad=False (non-divisible maps get extra, smaller regions), q/k/v are zero-padded to whole
// regions after the projection, the scale is dim^-0.5 (not head_dim^-0.5), and routing runs on the
// (detached) pooled q/k of all channels. Keys: lepe, qkv_linear, output_linear.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>

namespace attnzoo::modules {

/// Token-to-token attention inside routed regions (rrsda): query, key, value [B, C, H, W];
/// region_graph [B, heads, q_regions, topk] (region indices, row-major); zero-pads to whole regions,
/// gathers the topk key/value regions of each query region, softmax((q * scale) k^T) v; returns [B, C, H, W].
at::Tensor regional_routing_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                      double scale, const at::Tensor& region_graph, std::array<int64_t, 2> region_size);

struct NchwBRAOptions {
  explicit NchwBRAOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: dim^-0.5 (sic, the official choice "to be consistent with old models")
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(int64_t, side_dwconv) = 3;  // 0: no LePE
};

/// The official constructor arguments of NchwBRA (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwBRAOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("n_win", o.n_win());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("topk", o.topk());
  v.arg("side_dwconv", o.side_dwconv());
  v.ignored("auto_pad", false);  // unused by the official forward, which always pads
  v.fixed("attn_backend", "torch");
}

class NchwBRAImpl : public torch::nn::Cloneable<NchwBRAImpl> {
 public:
  explicit NchwBRAImpl(const NchwBRAOptions& options);
  void reset() override;
  /// x [B, dim, H, W] with H, W >= n_win -> [B, dim, H, W].
  at::Tensor forward(const at::Tensor& x);

  NchwBRAOptions options;
  torch::nn::Conv2d lepe{nullptr};
  torch::nn::Conv2d qkv_linear{nullptr};
  torch::nn::Conv2d output_linear{nullptr};
};
TORCH_MODULE(NchwBRA);

/// Global attention + LePE on NCHW input (models/_common.py nchwAttentionLePE). Keys qkv, proj, lepe.
struct NchwAttentionLePEOptions {
  explicit NchwAttentionLePEOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: head_dim^-0.5
  TORCH_ARG(int64_t, side_dwconv) = 5;
};

/// The official constructor arguments of NchwAttentionLePE (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwAttentionLePEOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.ignored("attn_drop", 0.0);
  v.ignored("proj_drop", 0.0);
  v.arg("side_dwconv", o.side_dwconv());
}

class NchwAttentionLePEImpl : public torch::nn::Cloneable<NchwAttentionLePEImpl> {
 public:
  explicit NchwAttentionLePEImpl(const NchwAttentionLePEOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  NchwAttentionLePEOptions options;
  torch::nn::Conv2d qkv{nullptr};
  torch::nn::Conv2d proj{nullptr};
  torch::nn::Conv2d lepe{nullptr};
};
TORCH_MODULE(NchwAttentionLePE);

/// biformer_stl_nchw's block: x + DropPath(attn(LN2d(x))); x + DropPath(mlp(LN2d(x))), all NCHW.
/// attn = NchwBRA (topk > 0) or NchwAttentionLePE with its defaults (topk == -1; the official block
/// passes only dim). mlp = Sequential(1x1, GELU, 1x1). Keys norm1, attn, norm2, mlp.{0,2}.
struct NchwBiFormerBlockOptions {
  explicit NchwBiFormerBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(int64_t, side_dwconv) = 5;
};

/// The official constructor arguments of NchwBiFormerBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwBiFormerBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("drop_path", o.drop_path());
  v.arg("num_heads", o.num_heads());
  v.arg("n_win", o.n_win());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("topk", o.topk());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("side_dwconv", o.side_dwconv());
  v.ignored("norm_layer", "LayerNorm2d");
}

class NchwBiFormerBlockImpl : public torch::nn::Cloneable<NchwBiFormerBlockImpl> {
 public:
  explicit NchwBiFormerBlockImpl(const NchwBiFormerBlockOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  NchwBiFormerBlockOptions options;
  torch::nn::AnyModule norm1, attn, norm2;
  torch::nn::Sequential mlp{nullptr};
  double drop_path_rate = 0.0;
};
TORCH_MODULE(NchwBiFormerBlock);

}  // namespace attnzoo::modules
