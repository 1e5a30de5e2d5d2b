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
