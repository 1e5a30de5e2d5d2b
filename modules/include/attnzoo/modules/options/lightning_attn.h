#pragma once
// Options of lightning attention's modules (Qin et al., "Lightning Attention-2", arXiv 2401.04658; TransNormerLLM,
// arXiv 2307.14995), official code OpenNLPLab/lightning-attention: examples/module/tnl_attn.py TnlAttention,
// lightning_attn/ops (the causal decayed linear attention op, its torch reference and SimpleRMSNorm).
#include <attnzoo/core/args.h>

#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// How lightning_attention computes: the Lightning Attention-2 split (intra-block masked products + an
/// inter-block running k^T v state, O(n d^2)) or the naive O(n^2) masked form (the reference).
struct LightningAttentionOptions {
  TORCH_ARG(int64_t, block_size) = 64;
  /// true: query i sees keys j <= i with weight exp(-s (i - j)) (the official op); false (attnzoo's
  /// bidirectional mode): every key, weight exp(-s |i - j|).
  TORCH_ARG(bool, causal) = true;
};

/// tnl_attn.py TnlAttention: silu(q), silu(k), silu(v) projections, per-head decayed linear attention with the
/// ALiBi-style slopes scaled by (1 - layer_idx / (num_layers - 1) + 1e-5), LayerNorm, a low-rank sigmoid output
/// gate, o_proj. Keys q_proj, k_proj, v_proj, o_proj, norm, output_gate.0, output_gate.1 (the slopes are not
/// persistent). The official op is causal whatever `causal` says (the argument is unused there); attnzoo's
/// causal = false is the bidirectional mode. block_size is attnzoo's (the blockwise computation's block).
struct TnlAttentionOptions {
  TnlAttentionOptions(int64_t embed_dim, int64_t num_heads) : embed_dim_(embed_dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(int64_t, layer_idx) = 0;
  TORCH_ARG(int64_t, num_layers) = 12;
  TORCH_ARG(bool, causal) = true;
  TORCH_ARG(int64_t, block_size) = 64;
};

template <class V>
void visit_args(TnlAttentionOptions& o, V& v) {
  v.required("embed_dim", o.embed_dim());
  v.required("num_heads", o.num_heads());
  v.arg("bias", o.bias());
  v.fixed("norm_type", "layernorm");  // the official class builds nn.LayerNorm whatever it says
  v.arg("layer_idx", o.layer_idx());
  v.arg("num_layers", o.num_layers());
  v.arg("causal", o.causal());
  v.arg("block_size", o.block_size());
}

/// srmsnorm.py SimpleRMSNorm: x / sqrt(mean(x^2) + eps), no parameters.
struct SimpleRMSNormOptions {
  explicit SimpleRMSNormOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps) = 1e-6;
};

template <class V>
void visit_args(SimpleRMSNormOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("eps", o.eps());
}

}  // namespace attnzoo::modules
