#pragma once
// Options of MoH, mixture-of-head attention (Jin et al., "MoH: Multi-Head Attention as Mixture-of-Head Attention",
// arXiv 2410.11842), official code SkyworkAI/MoH MoH-ViT/attention.py `Attention` (TransNeXt's global attention
// with head routing).
#include <attnzoo/core/args.h>

#include <torch/arg.h>

#include <cstdint>
#include <vector>

namespace attnzoo::modules {

/// MoH attention: TransNeXt's length-scaled cosine attention (l2-normalised q + a learned query embedding, times
/// softplus(temperature) * log(N), against l2-normalised k, plus a continuous relative position bias from a
/// 2 -> 512 -> heads MLP), whose per-head outputs are weighted per token: shared_head heads always on (weighted by
/// wg_1 when more than one), routed_head of the other heads chosen by top-k of the router wg, the two groups
/// balanced by wg_0. Keys temperature, query_embedding, qkv, proj, cpb_fc1, cpb_fc2, wg, wg_0, wg_1.
struct MoHAttentionOptions {
  MoHAttentionOptions(int64_t dim, std::vector<int64_t> input_resolution)
      : dim_(dim), input_resolution_(std::move(input_resolution)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, input_resolution);  // [H, W]: sets the length scale log(H W)
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, shared_head) = 0;
  TORCH_ARG(int64_t, routed_head) = 0;
};

template <class V>
void visit_args(MoHAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("input_resolution", o.input_resolution());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("shared_head", o.shared_head());
  v.arg("routed_head", o.routed_head());
}

/// TransNeXt's aggregated attention with MoH's head routing (MoH-ViT/attention_native.py `AggregatedAttention`):
/// each query attends, through one softmax, to its window_size^2 neighbourhood (zero-padded borders masked, plus a
/// learned per-head bias) and to the map average-pooled to (H / sr_ratio, W / sr_ratio) (or fixed_pool_size^2)
/// after a 1x1 conv, GELU and LayerNorm (with the continuous relative position bias of MoHAttention); the local
/// values also get query-dependent learnable tokens. Heads are gated per token as MoHAttention's. The module is
/// built for one input_resolution (its padding mask and length scales), as the official one. Keys temperature,
/// query_embedding, relative_pos_bias_local, learnable_tokens, learnable_bias, q, kv, proj, sr, norm, cpb_fc1,
/// cpb_fc2, wg, wg_0, wg_1.
struct AggregatedAttentionOptions {
  AggregatedAttentionOptions(int64_t dim, std::vector<int64_t> input_resolution)
      : dim_(dim), input_resolution_(std::move(input_resolution)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, input_resolution);  // [H, W]
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, window_size) = 3;  // odd
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, sr_ratio) = 1;
  TORCH_ARG(int64_t, fixed_pool_size) = 0;  // None: the map / sr_ratio
  TORCH_ARG(int64_t, shared_head) = 0;
  TORCH_ARG(int64_t, routed_head) = 0;
};

template <class V>
void visit_args(AggregatedAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("input_resolution", o.input_resolution());
  v.arg("num_heads", o.num_heads());
  v.arg("window_size", o.window_size());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("sr_ratio", o.sr_ratio());
  v.nullable("fixed_pool_size", o.fixed_pool_size(), int64_t{0});
  v.arg("shared_head", o.shared_head());
  v.arg("routed_head", o.routed_head());
}

/// TransNeXt's convolutional GLU (MoH-ViT/transnext.py `ConvolutionalGLU`): fc1 to 2 x int(2 hidden / 3), the
/// first half through a 3x3 depthwise conv (`dwconv.dwconv`) and GELU, times the second half, fc2. Tokens [B, N, C]
/// with the map size. Keys fc1, dwconv.dwconv, fc2.
struct ConvolutionalGLUOptions {
  explicit ConvolutionalGLUOptions(int64_t in_features) : in_features_(in_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features) = 0;  // None: in_features (then 2/3 of it)
  TORCH_ARG(int64_t, out_features) = 0;     // None: in_features
  TORCH_ARG(double, drop) = 0.0;
};

template <class V>
void visit_args(ConvolutionalGLUOptions& o, V& v) {
  v.required("in_features", o.in_features());
  v.nullable("hidden_features", o.hidden_features(), int64_t{0});
  v.nullable("out_features", o.out_features(), int64_t{0});
  v.fixed("act_layer", "nn.GELU");
  v.arg("drop", o.drop());
}

/// MoH-TransNeXt's block (MoH-ViT/transnext.py `Block`): x + attn(norm1(x)), x + mlp(norm2(x)) with a
/// ConvolutionalGLU of int(dim * mlp_ratio) hidden features; the attention is AggregatedAttention, or MoHAttention
/// (global) where sr_ratio is 1. Keys norm1, attn, norm2, mlp.
struct TransNeXtBlockOptions {
  TransNeXtBlockOptions(int64_t dim, int64_t num_heads, std::vector<int64_t> input_resolution)
      : dim_(dim), num_heads_(num_heads), input_resolution_(std::move(input_resolution)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(std::vector<int64_t>, input_resolution);
  TORCH_ARG(int64_t, window_size) = 3;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;  // norm_layer: nn.LayerNorm
  TORCH_ARG(int64_t, sr_ratio) = 1;
  TORCH_ARG(int64_t, fixed_pool_size) = 0;
  TORCH_ARG(int64_t, shared_head) = 0;
  TORCH_ARG(int64_t, routed_head) = 0;
};

template <class V>
void visit_args(TransNeXtBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.required("input_resolution", o.input_resolution());
  v.arg("window_size", o.window_size());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop", o.drop());
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.fixed("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("sr_ratio", o.sr_ratio());
  v.nullable("fixed_pool_size", o.fixed_pool_size(), int64_t{0});
  v.arg("shared_head", o.shared_head());
  v.arg("routed_head", o.routed_head());
}

/// TransNeXt's overlapping patch embedding (MoH-ViT/transnext.py `OverlapPatchEmbed`): conv(patch_size, stride,
/// padding patch_size / 2) -> tokens -> LayerNorm (eps 1e-5 always). Keys proj, norm.
struct TransNeXtPatchEmbedOptions {
  TORCH_ARG(int64_t, patch_size) = 7;
  TORCH_ARG(int64_t, stride) = 4;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, embed_dim) = 768;
};

template <class V>
void visit_args(TransNeXtPatchEmbedOptions& o, V& v) {
  v.arg("patch_size", o.patch_size());
  v.arg("stride", o.stride());
  v.arg("in_chans", o.in_chans());
  v.arg("embed_dim", o.embed_dim());
}

/// attnzoo's 1-D form for sequence backbones: the same routed-head cosine attention on x [B, L, C] with a key
/// padding mask, length scale log(L), and no relative position bias (TransNeXt's is two-dimensional). Keys
/// temperature, query_embedding, qkv, proj, wg, wg_0, wg_1.
struct MoHAttention1DOptions {
  MoHAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(int64_t, shared_head) = 2;
  TORCH_ARG(int64_t, routed_head) = 1;
};

template <class V>
void visit_args(MoHAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("shared_head", o.shared_head());
  v.arg("routed_head", o.routed_head());
}

}  // namespace attnzoo::modules
