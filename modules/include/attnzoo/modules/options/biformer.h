#pragma once
// Options of BiFormer's attention modules (Zhu et al., CVPR 2023, arXiv 2303.08810).
#include <torch/arg.h>

#include <cstdint>
#include <string>

namespace attnzoo::modules {

/// Bi-level routing attention: region-to-region routing keeps each query window's top-k key windows,
/// then token-to-token attention runs over the gathered keys/values. Official argument names.
struct BiLevelRoutingAttentionOptions {
  explicit BiLevelRoutingAttentionOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;              // windows per side
  TORCH_ARG(int64_t, qk_dim) = 0;             // 0 = dim
  TORCH_ARG(double, qk_scale) = 0.0;          // 0 = qk_dim ** -0.5 (the FULL qk_dim, as officially)
  TORCH_ARG(int64_t, kv_per_win) = 4;         // ada_avgpool / ada_maxpool output side
  TORCH_ARG(int64_t, kv_downsample_ratio) = 4;  // avgpool / maxpool kernel = stride
  /// identity | ada_avgpool | ada_maxpool | avgpool | maxpool
  TORCH_ARG(std::string, kv_downsample_mode) = "identity";
  TORCH_ARG(int64_t, topk) = 4;
  /// qkvo (output Linear `wo`) | qkv (no output projection)
  TORCH_ARG(std::string, param_attention) = "qkvo";
  TORCH_ARG(bool, param_routing) = false;  // extra Linear in the router (needs diff_routing)
  TORCH_ARG(bool, diff_routing) = false;   // gradients through the router
  TORCH_ARG(bool, soft_routing) = false;   // scale gathered kv by the routing weights
  TORCH_ARG(int64_t, side_dwconv) = 3;     // LePE depthwise kernel (0 = none)
  TORCH_ARG(bool, auto_pad) = false;       // pad H, W to multiples of n_win (segmentation)
};

/// The routing arguments BiLevelRoutingAttention and BiFormer's Block share (any Options with them).
template <class Options, class V>
void visit_routing_args(Options& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("n_win", o.n_win());
  v.nullable("qk_dim", o.qk_dim(), int64_t{0});
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("kv_per_win", o.kv_per_win());
  v.arg("kv_downsample_ratio", o.kv_downsample_ratio());
  v.ignored("kv_downsample_kernel", nullptr);  // unused by the legacy BRA
  v.arg("kv_downsample_mode", o.kv_downsample_mode());
  v.arg("topk", o.topk());
  v.arg("param_attention", o.param_attention());
  v.arg("param_routing", o.param_routing());
  v.arg("diff_routing", o.diff_routing());
  v.arg("soft_routing", o.soft_routing());
  v.arg("side_dwconv", o.side_dwconv());
  v.arg("auto_pad", o.auto_pad());
}

/// The official constructor arguments of BiLevelRoutingAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(BiLevelRoutingAttentionOptions& o, V& v) {
  visit_routing_args(o, v);
}

/// BiFormer's global attention with a LePE side branch (models/_common.py AttentionLePE).
struct AttentionLePEOptions {
  explicit AttentionLePEOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0 = (dim // num_heads) ** -0.5
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, side_dwconv) = 5;
};

/// The official constructor arguments of AttentionLePE (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(AttentionLePEOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("side_dwconv", o.side_dwconv());
}

}  // namespace attnzoo::modules
