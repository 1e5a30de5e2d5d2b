#pragma once
// Options of Agent Attention's modules (Han et al., arXiv 2312.08874; LeapLabTHU/Agent-Attention
// agent_transformer/models). The three official files each define their own AgentAttention class; here each
// is its own module with its own options, under the official constructor argument names.
#include <torch/arg.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// The attention of a block, as the official `attn_type` letters name it.
enum class AgentAttnType {
  Agent,    // 'A': agent attention
  Softmax,  // 'B': the backbone's own softmax attention (DeiT MHSA, PVT spatial reduction, Swin windows)
};

/// agent_deit.py AgentAttention: tokens [B, 1 + window^2, C] with a class token first.
/// `AgentDeiTAttention attn(AgentDeiTAttentionOptions(192, 3).agent_num(49).window(14));`
struct AgentDeiTAttentionOptions {
  AgentDeiTAttentionOptions(int64_t dim, int64_t num_heads = 8) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, agent_num) = 49;  // a square number (the queries are pooled to sqrt x sqrt)
  TORCH_ARG(int64_t, window) = 14;     // side of the patch-token map (img_size / patch_size)
};

template <class V>
void visit_args(AgentDeiTAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("agent_num", o.agent_num());
  v.arg("window", o.window());
}

/// agent_pvt.py AgentAttention: forward(x, H, W) on a square map of num_patches tokens; with sr_ratio > 1
/// the keys / values come from a strided conv `sr` + LayerNorm `norm`.
struct AgentPVTAttentionOptions {
  AgentPVTAttentionOptions(int64_t dim, int64_t num_patches, int64_t num_heads = 8)
      : dim_(dim), num_patches_(num_patches), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_patches);  // a square number: the map side is sqrt(num_patches)
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, sr_ratio) = 1;
  TORCH_ARG(int64_t, agent_num) = 49;
};

template <class V>
void visit_args(AgentPVTAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_patches", o.num_patches());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.ignored("qk_scale", nullptr);  // unused by the official agent attention
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("sr_ratio", o.sr_ratio());
  v.arg("agent_num", o.agent_num());
}

/// agent_swin.py AgentAttention: windows [num_windows * B, ws * ws, C].
struct AgentSwinAttentionOptions {
  AgentSwinAttentionOptions(int64_t dim, std::vector<int64_t> window_size, int64_t num_heads)
      : dim_(dim), window_size_(std::move(window_size)), num_heads_(num_heads) {}
  /// A square window of side `window`.
  AgentSwinAttentionOptions(int64_t dim, int64_t window, int64_t num_heads)
      : AgentSwinAttentionOptions(dim, std::vector<int64_t>{window, window}, num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, window_size);  // [ws, ws]
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(int64_t, agent_num) = 49;
};

template <class V>
void visit_args(AgentSwinAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("window_size", o.window_size());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.ignored("qk_scale", nullptr);
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.ignored("shift_size", 0);  // accepted and unused by the official module
  v.arg("agent_num", o.agent_num());
}

/// PVT's spatial-reduction attention (agent_pvt.py Attention, attn_type 'B'): keys / values from a strided
/// conv `sr` + LayerNorm `norm` when sr_ratio > 1.
struct SRAttentionOptions {
  SRAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(int64_t, sr_ratio) = 1;
};

/// Swin's window attention with a relative position bias (agent_swin.py WindowAttention, attn_type 'B').
struct SwinWindowAttentionOptions {
  SwinWindowAttentionOptions(int64_t dim, int64_t window_size, int64_t num_heads)
      : dim_(dim), window_size_(window_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, window_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
};

/// agent_deit.py AgentBlock (attn_type Agent) or DeiT's Block (Softmax, timm's Attention) on
/// [B, 1 + window^2, C]: x + DropPath(attn(norm1(x))), x + DropPath(mlp(norm2(x))).
struct AgentDeiTBlockOptions {
  AgentDeiTBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(AgentAttnType, attn_type) = AgentAttnType::Agent;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-6;
  TORCH_ARG(int64_t, agent_num) = 49;
  TORCH_ARG(int64_t, window) = 14;  // img_size / patch_size
};

/// agent_pvt.py Block on [B, H*W, C], forward(x, H, W): agent attention (attn_type Agent, spatial reduction
/// agent_sr_ratio) or PVT's spatial-reduction attention (Softmax, sr_ratio).
struct AgentPVTBlockOptions {
  AgentPVTBlockOptions(int64_t dim, int64_t num_patches, int64_t num_heads)
      : dim_(dim), num_patches_(num_patches), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_patches);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(AgentAttnType, attn_type) = AgentAttnType::Agent;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-6;
  TORCH_ARG(int64_t, sr_ratio) = 1;
  TORCH_ARG(int64_t, agent_sr_ratio) = 1;
  TORCH_ARG(int64_t, agent_num) = 49;
};

/// agent_swin.py SwinTransformerBlock on an input_resolution map: (shifted) windows of agent attention
/// (attn_type Agent) or relative-bias window attention (Softmax, with the shift mask buffer attn_mask).
struct AgentSwinBlockOptions {
  AgentSwinBlockOptions(int64_t dim, std::vector<int64_t> input_resolution, int64_t num_heads)
      : dim_(dim), input_resolution_(std::move(input_resolution)), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, input_resolution);  // [H, W]
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, window_size) = 7;
  TORCH_ARG(int64_t, shift_size) = 0;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(AgentAttnType, attn_type) = AgentAttnType::Agent;
  TORCH_ARG(int64_t, agent_num) = 49;
};

/// Agent attention along a sequence (attnzoo's 1-D form): agent_num agents, the masked means of the queries
/// over contiguous bins; agent aggregation and broadcast + a depthwise conv on V. Keys qkv, proj, dwc.
struct AgentAttention1DOptions {
  AgentAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(int64_t, agent_num) = 64;
};

template <class V>
void visit_args(AgentAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("agent_num", o.agent_num());
}

}  // namespace attnzoo::modules
