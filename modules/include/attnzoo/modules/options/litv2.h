#pragma once
// Options of LITv2's modules (Pan et al., NeurIPS 2022, arXiv 2205.13213; ziplab/LITv2), official argument names.
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

/// LITv2 DWMlp on square token maps: fc1 (Linear) -> depthwise 3x3 -> GELU -> fc2. Keys fc1, dwconv.dwconv, fc2.
struct TokenDWMlpOptions {
  TokenDWMlpOptions(int64_t in_features, int64_t hidden_features)
      : in_features_(in_features), hidden_features_(hidden_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
};

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

/// LITv2's HiLo along a sequence (attnzoo's 1-D form): alpha of the heads attend to window-pooled keys
/// (Lo-Fi), the others inside windows of `window` tokens (Hi-Fi). Keys l_q, l_kv, l_proj, h_qkv, h_proj.
struct HiLo1DOptions {
  HiLo1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(int64_t, window) = 16;  // Hi-Fi window and Lo-Fi pooling size
  TORCH_ARG(double, alpha) = 0.5;   // share of Lo-Fi heads
};

template <class V>
void visit_args(HiLo1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("window", o.window());
  v.arg("alpha", o.alpha());
}

}  // namespace attnzoo::modules
