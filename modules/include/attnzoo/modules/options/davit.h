#pragma once
// Options of DaViT's modules (Ding et al., ECCV 2022, arXiv 2204.03645; dingmyu/davit), official argument names.
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// DaViT ConvPosEnc: x + depthwise k x k conv of the (B, C, H, W) view of the tokens. Key: proj.
struct ConvPosEncOptions {
  explicit ConvPosEncOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, k) = 3;
};

/// Channel group attention: per group of d = C / num_heads channels, A = softmax((k * d^-0.5)^T v) over
/// channels, out = q A^T. Keys: qkv, proj.
struct ChannelAttentionOptions {
  ChannelAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
};

/// The official constructor arguments of ChannelAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(ChannelAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
}

struct DaViTBlockOptions {
  DaViTBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, window_size) = 7;  // spatial blocks
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(bool, ffn) = true;
};

/// The official constructor arguments of DaViTBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(DaViTBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("window_size", o.window_size());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.ignored("norm_layer", "nn.LayerNorm");
  v.arg("ffn", o.ffn());
}

/// DaViT patch embedding. patch_size 4 (stem): image -> pad to x4 -> conv 7x7/4 pad 3 -> LayerNorm on
/// tokens. patch_size 2 (merging): tokens -> LayerNorm(in) -> pad to x2 -> conv 2x2/2 (3x3/2 pad 1 when
/// overlapped). Keys: proj, norm. Returns tokens and the new size.
struct DaViTPatchEmbedOptions {
  DaViTPatchEmbedOptions(int64_t patch_size, int64_t in_chans, int64_t embed_dim)
      : patch_size_(patch_size), in_chans_(in_chans), embed_dim_(embed_dim) {}
  TORCH_ARG(int64_t, patch_size);  // 4 (stem) or 2 (merging)
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(bool, overlapped) = false;
};

/// DaViT's channel group attention along a sequence (attnzoo's 1-D form): softmax over the d x d channel
/// Gram matrix of each head. Keys qkv, proj.
struct ChannelGroupAttention1DOptions {
  ChannelGroupAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
};

template <class V>
void visit_args(ChannelGroupAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
}

}  // namespace attnzoo::modules
