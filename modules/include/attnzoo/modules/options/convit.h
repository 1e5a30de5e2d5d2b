#pragma once
// Options of ConViT's modules (d'Ascoli et al., ICML 2021, arXiv 2103.10697).
#include <attnzoo/modules/options/attention.h>

#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// ConViT's gated positional self-attention (d'Ascoli et al. 2021): content attention and a learned
/// relative-position attention mixed per head by sigmoid(gating_param).
struct GPSAOptions {
  GPSAOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(double, locality_strength) = 1.0;
  /// Apply ConViT's local init (v = identity, pos_proj = a grid of local offsets).
  TORCH_ARG(bool, use_local_init) = true;
};

/// The official constructor arguments of GPSA (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(GPSAOptions& o, V& v) {
  visit_attention_args(o, v);
  v.arg("locality_strength", o.locality_strength());
  v.arg("use_local_init", o.use_local_init());
}

/// ConViT's gated positional self-attention along a sequence (attnzoo's 1-D form): 1-D relative positions
/// (delta, delta^2), a per-head sigmoid gate mixes content and positional attention. Keys gating_param, qk, v,
/// pos_proj, proj.
struct GPSA1DOptions {
  GPSA1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, locality_strength) = 1.0;
};

template <class V>
void visit_args(GPSA1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("locality_strength", o.locality_strength());
}

struct ConViTBlockOptions {
  ConViTBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(bool, use_gpsa) = true;
  TORCH_ARG(double, locality_strength) = 1.0;
};

/// The official constructor arguments of ConViTBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(ConViTBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop", o.drop());
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("use_gpsa", o.use_gpsa());
  v.arg("locality_strength", o.locality_strength());
}

}  // namespace attnzoo::modules
