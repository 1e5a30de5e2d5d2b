#pragma once
// Options of BiFormer's attention modules (Zhu et al., CVPR 2023, arXiv 2303.08810).
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// How BRA downsamples the keys / values of each window (the official `kv_downsample_mode`).
enum class KvDownsampleMode { Identity, AdaAvgPool, AdaMaxPool, AvgPool, MaxPool };
inline const std::vector<std::pair<std::string, KvDownsampleMode>> kKvDownsampleModeNames = {
    {"identity", KvDownsampleMode::Identity}, {"ada_avgpool", KvDownsampleMode::AdaAvgPool},
    {"ada_maxpool", KvDownsampleMode::AdaMaxPool}, {"avgpool", KvDownsampleMode::AvgPool},
    {"maxpool", KvDownsampleMode::MaxPool}};

/// BRA's projections (the official `param_attention`): qkvo has an output Linear `wo`, qkv none.
enum class ParamAttention { QKVO, QKV };
inline const std::vector<std::pair<std::string, ParamAttention>> kParamAttentionNames = {{"qkvo", ParamAttention::QKVO},
                                                                                       {"qkv", ParamAttention::QKV}};

/// BiFormer's router (TopkRouting): top-k of (q_win * scale) k_win^T per query window, optionally through a
/// Linear `emb` (param_routing) and with gradients (diff_routing).
struct TopkRoutingOptions {
  explicit TopkRoutingOptions(int64_t qk_dim) : qk_dim_(qk_dim) {}
  TORCH_ARG(int64_t, qk_dim);
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(double, qk_scale) = 0.0;  // Python None: qk_dim ** -0.5
  TORCH_ARG(bool, param_routing) = false;
  TORCH_ARG(bool, diff_routing) = false;
};

/// BiFormer's QKVLinear: one Linear dim -> 2 * qk_dim + dim keyed `qkv`, split into q | kv.
struct QKVLinearOptions {
  QKVLinearOptions(int64_t dim, int64_t qk_dim) : dim_(dim), qk_dim_(qk_dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, qk_dim);
  TORCH_ARG(bool, bias) = true;
};

/// BiFormer's DWConv on NHWC tensors: depthwise 3x3 keyed `dwconv`.
struct DWConvNHWCOptions {
  explicit DWConvNHWCOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

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
  TORCH_ARG(KvDownsampleMode, kv_downsample_mode) = KvDownsampleMode::Identity;
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(ParamAttention, param_attention) = ParamAttention::QKVO;
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
  v.choice("kv_downsample_mode", o.kv_downsample_mode(), kKvDownsampleModeNames);
  v.arg("topk", o.topk());
  v.choice("param_attention", o.param_attention(), kParamAttentionNames);
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

/// BiFormer's bi-level routing attention along a sequence (attnzoo's 1-D form): regions of `block` tokens,
/// the topk routed regions per region, + LePE (depthwise conv on V). Keys qkv, lepe, proj.
struct BiLevelRoutingAttention1DOptions {
  BiLevelRoutingAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(int64_t, block) = 64;  // region size
  TORCH_ARG(int64_t, topk) = 4;
};

template <class V>
void visit_args(BiLevelRoutingAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("block", o.block());
  v.arg("topk", o.topk());
}

struct BiFormerBlockOptions {
  explicit BiFormerBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale_init_value) = -1;  // > 0 enables gamma1/gamma2
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(int64_t, qk_dim) = 0;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(int64_t, kv_per_win) = 4;
  TORCH_ARG(int64_t, kv_downsample_ratio) = 4;
  TORCH_ARG(KvDownsampleMode, kv_downsample_mode) = KvDownsampleMode::AdaAvgPool;  // the Block's default (variants pass identity)
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(ParamAttention, param_attention) = ParamAttention::QKVO;
  TORCH_ARG(bool, param_routing) = false;
  TORCH_ARG(bool, diff_routing) = false;
  TORCH_ARG(bool, soft_routing) = false;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, mlp_dwconv) = false;
  /// The Block of models/biformer.py keeps an Identity in the MLP where the optional DWConv goes
  /// (keys mlp.0 / mlp.3); the STL model's block has none (keys mlp.0 / mlp.2).
  TORCH_ARG(bool, mlp_dwconv_slot) = true;
  TORCH_ARG(int64_t, side_dwconv) = 5;
  TORCH_ARG(int64_t, before_attn_dwconv) = 3;
  TORCH_ARG(bool, pre_norm) = true;
  TORCH_ARG(bool, auto_pad) = false;
};

/// The official constructor arguments of BiFormerBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(BiFormerBlockOptions& o, V& v) {
  visit_routing_args(o, v);
  v.arg("drop_path", o.drop_path());
  v.arg("layer_scale_init_value", o.layer_scale_init_value());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("mlp_dwconv", o.mlp_dwconv());
  v.arg("before_attn_dwconv", o.before_attn_dwconv());
  v.arg("pre_norm", o.pre_norm());
}

}  // namespace attnzoo::modules
