#pragma once
// Sigmoid self-attention (Ramapuram et al., arXiv 2409.04431), official code apple/ml-sigmoid-attention
// (attention_simulator/layers): one class per official class.
//  - SigmoidAttention        attention.py Attention (RoPEAttention / ALiBiAttention: its qk_transform /
//                            attn_logits_transform options)
//  - SigmoidMlp              mlp.py Mlp (fc1 without bias)
//  - LayerScale              normalization.py LayerScale (gamma)
//  - SigmoidTransformerBlock transformer.py TransformerBlock
//  - SigmoidAttention1D      attnzoo's 1-D form (key padding mask, causal, b = -log n) for sequence backbones
// Masks follow the official masking_fn: a boolean mask broadcastable to [B, heads, N, N], true = may attend;
// masked logits are set to -finfo.max before the temperature and the bias.
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/options/sigmoid_attn.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

class SigmoidAttentionImpl : public torch::nn::Cloneable<SigmoidAttentionImpl> {
 public:
  explicit SigmoidAttentionImpl(const SigmoidAttentionOptions& options);
  SigmoidAttentionImpl(int64_t dim, int64_t num_heads) : SigmoidAttentionImpl(SigmoidAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SigmoidAttention", options); }
  /// x [B, N, C] -> [B, N, C] (the official output's "attn_proj").
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  /// The activated attention matrix [B, heads, N, N] (the official output's "attn_matrix").
  at::Tensor attention(const at::Tensor& x, const at::Tensor& mask = {});

  SigmoidAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::LayerNorm q_norm{nullptr}, k_norm{nullptr};  // with qk_norm only
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
  at::Tensor attn_bias, attn_temp;  // buffers [1]

 private:
  std::pair<at::Tensor, at::Tensor> attention_and_values(const at::Tensor& x, const at::Tensor& mask);
};
TORCH_MODULE(SigmoidAttention);

class SigmoidMlpImpl : public torch::nn::Cloneable<SigmoidMlpImpl> {
 public:
  explicit SigmoidMlpImpl(const SigmoidMlpOptions& options);
  explicit SigmoidMlpImpl(int64_t in_features) : SigmoidMlpImpl(SigmoidMlpOptions(in_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SigmoidMlp", options); }
  at::Tensor forward(const at::Tensor& x);

  SigmoidMlpOptions options;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout drop1{nullptr}, drop2{nullptr};
};
TORCH_MODULE(SigmoidMlp);

/// x * gamma (gamma [dim], initialised to init_values). Key gamma.
struct LayerScaleOptions {
  LayerScaleOptions(int64_t dim, double init_values = 1e-4) : dim_(dim), init_values_(init_values) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, init_values);
};

template <class V>
void visit_args(LayerScaleOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("init_values", o.init_values());
}

class LayerScaleImpl : public torch::nn::Cloneable<LayerScaleImpl> {
 public:
  explicit LayerScaleImpl(const LayerScaleOptions& options) : options(options) { reset(); }
  LayerScaleImpl(int64_t dim, double init_values) : LayerScaleImpl(LayerScaleOptions(dim, init_values)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::LayerScale", options); }
  at::Tensor forward(const at::Tensor& x) { return x * gamma; }

  LayerScaleOptions options;
  at::Tensor gamma;
};
TORCH_MODULE(LayerScale);

class SigmoidTransformerBlockImpl : public torch::nn::Cloneable<SigmoidTransformerBlockImpl> {
 public:
  explicit SigmoidTransformerBlockImpl(const SigmoidTransformerBlockOptions& options);
  SigmoidTransformerBlockImpl(int64_t dim, int64_t num_heads)
      : SigmoidTransformerBlockImpl(SigmoidTransformerBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SigmoidTransformerBlock", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  SigmoidTransformerBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SigmoidAttention attn{nullptr};
  SigmoidMlp mlp{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};  // with scaling_layer_fn only
  DropPath drop_path{nullptr};
};
TORCH_MODULE(SigmoidTransformerBlock);

class SigmoidAttention1DImpl : public torch::nn::Cloneable<SigmoidAttention1DImpl> {
 public:
  explicit SigmoidAttention1DImpl(const SigmoidAttention1DOptions& options);
  SigmoidAttention1DImpl(int64_t dim, int64_t num_heads) : SigmoidAttention1DImpl(SigmoidAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SigmoidAttention1D", options); }
  /// x [B, L, C], key padding mask [B, L] (true = padding) or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  SigmoidAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::LayerNorm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(SigmoidAttention1D);

/// The logits q k^T / sqrt(d) of the official forward from q, k [B, h, N, d]: qk norm (when the norms are
/// set), qk transform, scale, logits transform. Shared by both forms.
at::Tensor sigmoid_attention_logits(at::Tensor q, at::Tensor k, torch::nn::LayerNorm& q_norm, torch::nn::LayerNorm& k_norm,
                                    QKTransform qk_transform, AttnLogitsTransform logits_transform);
/// The attention weights of the official Attention from scaled logits q k^T / sqrt(d) [B, h, N, M] (after the
/// logits transform): mask (true = keep; undefined: none), * exp(temp) (undefined: skipped), + bias ([1]),
/// activation. Shared by both forms.
at::Tensor sigmoid_attention_weights(at::Tensor logits, const at::Tensor& keep, const at::Tensor& temp,
                                     const at::Tensor& bias, AttnActivation activation);
/// The official apply_rotary_emb on q, k [B, h, N, d] (positions 0..N-1; q and k rounded to float32 first, as
/// the official code computes in complex64 / complex128).
std::pair<at::Tensor, at::Tensor> rotary_embedding(const at::Tensor& q, const at::Tensor& k);
/// The official alibi bias [heads, N, M]: slope_h * (j - i), slopes from position_embedding._get_slopes.
at::Tensor alibi_bias(int64_t heads, int64_t n, int64_t m, const at::TensorOptions& options);

}  // namespace attnzoo::modules
