#pragma once
// Options of sigmoid attention's modules (Ramapuram et al., "Theory, Analysis, and Best Practices for Sigmoid
// Self-Attention", arXiv 2409.04431), official code apple/ml-sigmoid-attention attention_simulator/layers:
// attention.py `Attention`, mlp.py `Mlp`, transformer.py `TransformerBlock`, normalization.py `LayerScale`.
#include <attnzoo/core/args.h>

#include <nlohmann/json.hpp>
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// The official attn_activ_fn, by its key in activations.py's ACTIVATION_MAPPING.
enum class AttnActivation { Softmax, Sigmoid, SqrtSeqLenNormalizedSigmoid, SeqLenNormalizedSigmoid };
inline const std::vector<std::pair<std::string, AttnActivation>> kAttnActivationNames = {
    {"softmax", AttnActivation::Softmax},
    {"sigmoid", AttnActivation::Sigmoid},
    {"sqrt_seq_len_normalized_sigmoid", AttnActivation::SqrtSeqLenNormalizedSigmoid},
    {"seq_len_normalized_sigmoid", AttnActivation::SeqLenNormalizedSigmoid}};

/// The official qk_transform (RoPEAttention = Attention with apply_rotary_emb).
enum class QKTransform { None, RoPE };
inline const std::vector<std::pair<std::string, QKTransform>> kQKTransformNames = {
    {"none", QKTransform::None}, {"apply_rotary_emb", QKTransform::RoPE}};

/// The official attn_logits_transform (ALiBiAttention = Attention with alibi).
enum class AttnLogitsTransform { None, ALiBi };
inline const std::vector<std::pair<std::string, AttnLogitsTransform>> kAttnLogitsTransformNames = {
    {"none", AttnLogitsTransform::None}, {"alibi", AttnLogitsTransform::ALiBi}};

/// attention.py Attention: act(exp(attn_temp) * mask(transform(q k^T / sqrt(d))) + attn_bias) v, with the
/// activation softmax, sigmoid, or sigmoid with the row i scaled by 1/(i+1) or 1/sqrt(i+1). attn_bias and
/// attn_temp are constant buffers (the paper's b = -log n is given as attn_bias). Keys qkv, q_norm, k_norm
/// (LayerNorm(head_dim) with qk_norm), proj, attn_bias [1], attn_temp [1].
struct SigmoidAttentionOptions {
  SigmoidAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(AttnActivation, attn_activ_fn) = AttnActivation::Sigmoid;
  TORCH_ARG(bool, bias) = false;  // qkv and proj
  TORCH_ARG(bool, qk_norm) = false;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(double, attn_bias) = 0.0;  // None: 0
  TORCH_ARG(double, attn_temp) = 0.0;  // None: 0 (the logits are scaled by exp(attn_temp))
  TORCH_ARG(double, norm_eps) = 1e-5;  // norm_layer (q_norm, k_norm): nn.LayerNorm
  TORCH_ARG(QKTransform, qk_transform) = QKTransform::None;
  TORCH_ARG(AttnLogitsTransform, attn_logits_transform) = AttnLogitsTransform::None;
};

template <class V>
void visit_args(SigmoidAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.choice("attn_activ_fn", o.attn_activ_fn(), kAttnActivationNames);
  v.arg("bias", o.bias());
  v.arg("qk_norm", o.qk_norm());
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.nullable("attn_bias", o.attn_bias(), 0.0);
  v.nullable("attn_temp", o.attn_temp(), 0.0);
  v.norm_layer("norm_layer", o.norm_eps());
  v.ignored("which_linear", "nn.Linear");
  v.ignored("masking_fn", "softmax_masking_fn");  // the only one the repository has
  v.choice("qk_transform", o.qk_transform(), kQKTransformNames);
  v.choice("attn_logits_transform", o.attn_logits_transform(), kAttnLogitsTransformNames);
}

/// mlp.py Mlp: fc1 (never a bias) -> GELU -> drop -> fc2 (bias as `bias`) -> drop. Keys fc1, fc2.
struct SigmoidMlpOptions {
  explicit SigmoidMlpOptions(int64_t in_features) : in_features_(in_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features) = 0;  // None: in_features
  TORCH_ARG(int64_t, out_features) = 0;     // None: in_features
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(double, drop) = 0.0;
};

template <class V>
void visit_args(SigmoidMlpOptions& o, V& v) {
  v.required("in_features", o.in_features());
  v.nullable("hidden_features", o.hidden_features(), int64_t{0});
  v.nullable("out_features", o.out_features(), int64_t{0});
  v.ignored("act_layer", "nn.GELU");
  v.arg("bias", o.bias());
  v.arg("drop", o.drop());
  v.fixed("norm_layer", nullptr);  // the optional norm after fc1 is not ported
  v.ignored("which_linear", "nn.Linear");
}

/// The official constructor arguments of Attention / Mlp as JSON (how a block's attn_fn / mlp_fn is written).
inline void to_json(nlohmann::json& j, const SigmoidAttentionOptions& o);
inline void to_json(nlohmann::json& j, const SigmoidMlpOptions& o);

/// transformer.py TransformerBlock: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))). attn_fn and mlp_fn
/// are the partials' arguments (dim comes from the block), scaling_layer_fn LayerScale's init_values (None: no
/// LayerScale). drop_path is attnzoo's (the official block has none; no keys). Keys norm1, attn.*, ls1.gamma,
/// norm2, mlp.*, ls2.gamma.
struct SigmoidTransformerBlockOptions {
  SigmoidTransformerBlockOptions(int64_t dim, int64_t num_heads)
      : dim_(dim), attn_fn_(dim, num_heads), mlp_fn_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(SigmoidAttentionOptions, attn_fn);
  TORCH_ARG(SigmoidMlpOptions, mlp_fn);
  TORCH_ARG(double, layer_scale_init) = 0.0;  // scaling_layer_fn None: 0
  TORCH_ARG(double, norm_eps) = 1e-5;         // norm_layer: nn.LayerNorm
  TORCH_ARG(double, drop_path) = 0.0;
};

SigmoidAttentionOptions sigmoid_attention_options_from_json(const nlohmann::json& j, int64_t dim);
SigmoidMlpOptions sigmoid_mlp_options_from_json(const nlohmann::json& j, int64_t dim);

template <class V>
void visit_args(SigmoidTransformerBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  const int64_t dim = o.dim();
  o.attn_fn().dim(dim);  // the partials get dim from the block (the official config repeats it)
  o.mlp_fn().in_features(dim);
  v.parsed("attn_fn", o.attn_fn(), [dim](const nlohmann::json& j) { return sigmoid_attention_options_from_json(j, dim); });
  v.parsed("mlp_fn", o.mlp_fn(), [dim](const nlohmann::json& j) { return sigmoid_mlp_options_from_json(j, dim); });
  v.nullable("scaling_layer_fn", o.layer_scale_init(), 0.0);
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("drop_path", o.drop_path());
}

/// attnzoo's 1-D form for sequence backbones (Long Range Arena): the same attention on x [B, L, C] with a key
/// padding mask [B, L] (true = padding) and an optional causal mask; padded tokens' outputs are zero. With
/// attn_bias unset (null) the bias is the paper's b = -log(n), n the number of keys. Keys qkv, q_norm, k_norm,
/// proj.
struct SigmoidAttention1DOptions {
  SigmoidAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(AttnActivation, attn_activ_fn) = AttnActivation::Sigmoid;
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(bool, qk_norm) = true;  // the paper's recipe for stable sigmoid attention
  TORCH_ARG(bool, log_n_bias) = true;  // attn_bias = -log(n) per forward; false: attn_bias below
  TORCH_ARG(double, attn_bias) = 0.0;
  TORCH_ARG(QKTransform, qk_transform) = QKTransform::None;
  TORCH_ARG(AttnLogitsTransform, attn_logits_transform) = AttnLogitsTransform::None;
  TORCH_ARG(bool, causal) = false;
};

template <class V>
void visit_args(SigmoidAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.choice("attn_activ_fn", o.attn_activ_fn(), kAttnActivationNames);
  v.arg("bias", o.bias());
  v.arg("qk_norm", o.qk_norm());
  v.arg("log_n_bias", o.log_n_bias());
  v.arg("attn_bias", o.attn_bias());
  v.choice("qk_transform", o.qk_transform(), kQKTransformNames);
  v.choice("attn_logits_transform", o.attn_logits_transform(), kAttnLogitsTransformNames);
  v.arg("causal", o.causal());
}

}  // namespace attnzoo::modules

#include <attnzoo/core/arg_table.h>

namespace attnzoo::modules {

inline void to_json(nlohmann::json& j, const SigmoidAttentionOptions& o) {
  j = args_of(o);
  j.erase("dim");  // the block's
}
inline void to_json(nlohmann::json& j, const SigmoidMlpOptions& o) {
  j = args_of(o);
  j.erase("in_features");
}

}  // namespace attnzoo::modules
