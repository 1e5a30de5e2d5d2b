#pragma once
// Options of the attention modules on token sequences [B, N, C].
#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// The arguments timm-style attention classes share (Attention, MHSA, GPSA, ...), for any Options
/// with these fields.
template <class Options, class V>
void visit_attention_args(Options& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
}

/// Plain multi-head self-attention (ViT / timm `Attention`, ConViT `MHSA`): qkv Linear(C, 3C) split
/// [q|k|v] then heads, softmax(q k^T * scale) v, proj Linear(C, C).
/// `MultiHeadSelfAttention attn(MultiHeadSelfAttentionOptions(192, 3).qkv_bias(true));`
struct MultiHeadSelfAttentionOptions {
  MultiHeadSelfAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  /// 0 = head_dim ** -0.5
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
};

/// The official constructor arguments of MultiHeadSelfAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(MultiHeadSelfAttentionOptions& o, V& v) {
  visit_attention_args(o, v);
}

}  // namespace attnzoo::modules
