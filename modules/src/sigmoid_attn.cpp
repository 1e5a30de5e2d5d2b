#include <attnzoo/modules/sigmoid_attn.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/alibi.h>
#include <attnzoo/modules/module_registry.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "module_entry.h"
#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

namespace {

/// -torch.finfo(dtype).max: what the official masking_fn writes into masked logits.
double lowest_finite(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return std::numeric_limits<double>::lowest();
    case at::kFloat: return std::numeric_limits<float>::lowest();
    case at::kHalf: return -65504.0;
    case at::kBFloat16: return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    default: TORCH_CHECK(false, "sigmoid attention: unsupported dtype ", t);
  }
}



}  // namespace

at::Tensor sigmoid_attention_weights(at::Tensor logits, const at::Tensor& keep, const at::Tensor& temp,
                                     const at::Tensor& bias, AttnActivation activation) {
  if (keep.defined()) logits = logits.masked_fill(keep.logical_not(), lowest_finite(logits.scalar_type()));
  if (temp.defined()) logits = logits * torch::exp(temp);
  logits = logits + bias;
  switch (activation) {
    case AttnActivation::Softmax: return torch::softmax(logits, -1);
    case AttnActivation::Sigmoid: return torch::sigmoid(logits);
    case AttnActivation::SqrtSeqLenNormalizedSigmoid:
    case AttnActivation::SeqLenNormalizedSigmoid: {
      // activations.py: query row i scaled by 1 / (i + 1) (or its square root): the number of keys a causal
      // row sees. Square matrices only, as there.
      const int64_t L = logits.size(-1);
      TORCH_CHECK(logits.size(-2) == L, "seq-len normalised sigmoid attention needs as many queries as keys");
      at::Tensor count = torch::arange(1, L + 1, logits.options());
      if (activation == AttnActivation::SqrtSeqLenNormalizedSigmoid) count = count.sqrt();
      return torch::sigmoid(logits) * count.reciprocal().unsqueeze(-1);
    }
  }
  TORCH_CHECK(false, "unknown attention activation");
}

std::pair<at::Tensor, at::Tensor> rotary_embedding(const at::Tensor& q, const at::Tensor& k) {
  const int64_t N = q.size(2), d = q.size(3);
  TORCH_CHECK(d % 2 == 0 && k.size(3) == d, "RoPE needs an even head_dim shared by q and k, got ", q.sizes(), " and ", k.sizes());
  TORCH_CHECK(k.size(2) == N, "RoPE here needs as many keys as queries");
  // precompute_freqs_cis in the tensors' dtype (the official one runs in the default dtype), then the pairs
  // (x[2i], x[2i+1]) as complex numbers rotated by t * theta_i; q and k are rounded to float32 first as there
  // (xq.float()), which is a no-op for float32 models.
  const auto real = q.options();
  const at::Tensor inv_freq = 1.0 / torch::pow(10000.0, torch::arange(0, d, 2, real) / static_cast<double>(d));
  const at::Tensor angles = torch::outer(torch::arange(N, real), inv_freq);
  const at::Tensor freqs_cis = torch::polar(torch::ones_like(angles), angles).view({1, 1, N, d / 2});
  auto rotate = [&](const at::Tensor& x) {
    const at::Tensor xc = torch::view_as_complex(x.to(at::kFloat).reshape({x.size(0), x.size(1), N, d / 2, 2}).contiguous());
    return torch::view_as_real(xc * freqs_cis).flatten(3).to(x.scalar_type());
  };
  return {rotate(q), rotate(k)};
}

at::Tensor alibi_bias(int64_t heads, int64_t n, int64_t m, const at::TensorOptions& options) {
  TORCH_CHECK(n == m, "ALiBi needs as many queries as keys");
  const auto slopes = alibi_slopes(heads);
  const at::Tensor slope = torch::tensor(slopes, options.dtype(at::kDouble)).to(options.dtype()).view({heads, 1, 1});
  const at::Tensor pos = torch::arange(m, options);
  return slope * (pos.view({1, m}) - pos.view({m, 1})).unsqueeze(0);  // key - query
}

at::Tensor sigmoid_attention_logits(at::Tensor q, at::Tensor k, nn::LayerNorm& q_norm, nn::LayerNorm& k_norm,
                                    QKTransform qk_transform, AttnLogitsTransform logits_transform) {
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  if (qk_transform == QKTransform::RoPE) std::tie(q, k) = rotary_embedding(q, k);
  const double scale = std::pow(static_cast<double>(q.size(-1)), -0.5);
  at::Tensor logits = torch::matmul(q * scale, k.transpose(-2, -1));
  if (logits_transform == AttnLogitsTransform::ALiBi)
    logits = logits + alibi_bias(q.size(1), logits.size(-2), logits.size(-1), logits.options());
  return logits;
}

// ---------------------------------------------------------------------------------------------------------------
// Attention

SigmoidAttentionImpl::SigmoidAttentionImpl(const SigmoidAttentionOptions& o) : options(o) { reset(); }

void SigmoidAttentionImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "SigmoidAttention: dim ", C, " is not divisible by num_heads ", H);
  // attention.py registers attn_temp before attn_bias: that is the state_dict order.
  attn_temp = register_buffer("attn_temp", torch::full({1}, options.attn_temp()));
  attn_bias = register_buffer("attn_bias", torch::full({1}, options.attn_bias()));
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.bias())));
  if (options.qk_norm()) {
    q_norm = register_module("q_norm", nn::LayerNorm(nn::LayerNormOptions({C / H}).eps(options.norm_eps())));
    k_norm = register_module("k_norm", nn::LayerNorm(nn::LayerNormOptions({C / H}).eps(options.norm_eps())));
  }
  proj = register_module("proj", nn::Linear(nn::LinearOptions(C, C).bias(options.bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
}

std::pair<at::Tensor, at::Tensor> SigmoidAttentionImpl::attention_and_values(const at::Tensor& x, const at::Tensor& mask) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "SigmoidAttention: expected [B, N, ", options.dim(), "], got ",
              x.sizes());
  auto [q, k, v] = seq::project(qkv, x, options.num_heads());
  const at::Tensor logits = sigmoid_attention_logits(q, k, q_norm, k_norm, options.qk_transform(), options.attn_logits_transform());
  return {sigmoid_attention_weights(logits, mask, attn_temp, attn_bias, options.attn_activ_fn()), v};
}

at::Tensor SigmoidAttentionImpl::attention(const at::Tensor& x, const at::Tensor& mask) {
  return attention_and_values(x, mask).first;
}

at::Tensor SigmoidAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const auto [attn, v] = attention_and_values(x, mask);
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  const bool sigmoid = options.attn_activ_fn() == AttnActivation::Sigmoid;
  if (AttentionRecord* r = record_attention(this, sigmoid ? "sigmoid" : "softmax", attn)) set_square_grid_geometry(*r, N);
  const at::Tensor out = torch::matmul(attn_drop(attn), v).transpose(1, 2).reshape({B, N, C});
  return proj_drop(proj(out));
}

// ---------------------------------------------------------------------------------------------------------------
// Mlp, LayerScale, TransformerBlock

SigmoidMlpImpl::SigmoidMlpImpl(const SigmoidMlpOptions& o) : options(o) { reset(); }

void SigmoidMlpImpl::reset() {
  const int64_t in = options.in_features();
  const int64_t hidden = options.hidden_features() > 0 ? options.hidden_features() : in;
  const int64_t out = options.out_features() > 0 ? options.out_features() : in;
  fc1 = register_module("fc1", nn::Linear(nn::LinearOptions(in, hidden).bias(false)));  // mlp.py: bias=False always
  drop1 = register_module("drop1", nn::Dropout(options.drop()));
  fc2 = register_module("fc2", nn::Linear(nn::LinearOptions(hidden, out).bias(options.bias())));
  drop2 = register_module("drop2", nn::Dropout(options.drop()));
}

at::Tensor SigmoidMlpImpl::forward(const at::Tensor& x) { return drop2(fc2(drop1(torch::gelu(fc1(x))))); }

void LayerScaleImpl::reset() { gamma = register_parameter("gamma", torch::full({options.dim()}, options.init_values())); }

SigmoidAttentionOptions sigmoid_attention_options_from_json(const nlohmann::json& j, int64_t dim) {
  nlohmann::json args = j;
  if (!args.contains("dim")) args["dim"] = dim;
  auto o = options_from_args(args, "TransformerBlock.attn_fn", SigmoidAttentionOptions(dim, 8));
  if (o.dim() != dim) throw std::invalid_argument("TransformerBlock.attn_fn: dim must be the block's dim " + std::to_string(dim));
  return o;
}

SigmoidMlpOptions sigmoid_mlp_options_from_json(const nlohmann::json& j, int64_t dim) {
  nlohmann::json args = j;
  if (!args.contains("in_features")) args["in_features"] = dim;
  auto o = options_from_args(args, "TransformerBlock.mlp_fn", SigmoidMlpOptions(dim));
  if (o.in_features() != dim)
    throw std::invalid_argument("TransformerBlock.mlp_fn: in_features must be the block's dim " + std::to_string(dim));
  return o;
}

SigmoidTransformerBlockImpl::SigmoidTransformerBlockImpl(const SigmoidTransformerBlockOptions& o) : options(o) { reset(); }

void SigmoidTransformerBlockImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.attn_fn().dim() == C && options.mlp_fn().in_features() == C,
              "SigmoidTransformerBlock: attn_fn.dim and mlp_fn.in_features must equal dim ", C);
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  attn = register_module("attn", SigmoidAttention(options.attn_fn()));
  if (options.layer_scale_init() != 0.0) ls1 = register_module("ls1", LayerScale(C, options.layer_scale_init()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", SigmoidMlp(options.mlp_fn()));
  if (options.layer_scale_init() != 0.0) ls2 = register_module("ls2", LayerScale(C, options.layer_scale_init()));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
}

at::Tensor SigmoidTransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor a = attn(norm1(x), mask);
  at::Tensor y = x + drop_path(ls1 ? ls1(a) : a);
  at::Tensor m = mlp(norm2(y));
  return y + drop_path(ls2 ? ls2(m) : m);
}

// ---------------------------------------------------------------------------------------------------------------
// Registry

void register_sigmoid_attn_modules(ModuleEntries& e) {
  e.push_back(module_entry<SigmoidAttention>(
      "sigmoid_attn", "Attention", "attnzoo::modules::SigmoidAttention",
      "sigmoid (or softmax) self-attention with bias b, temperature, QK norm, RoPE / ALiBi; forward(x [B, N, C], mask)",
      SigmoidAttentionOptions(0, 8), MaskedForward{}));
  e.push_back(module_entry<SigmoidMlp>("sigmoid_attn", "Mlp", "attnzoo::modules::SigmoidMlp",
                                       "the sigmoid-attention repository's Mlp (fc1 without bias)", SigmoidMlpOptions(0)));
  e.push_back(module_entry<LayerScale>("sigmoid_attn", "LayerScale", "attnzoo::modules::LayerScale", "x * gamma",
                                       LayerScaleOptions(0)));
  e.push_back(module_entry<SigmoidTransformerBlock>(
      "sigmoid_attn", "TransformerBlock", "attnzoo::modules::SigmoidTransformerBlock",
      "pre-norm block: sigmoid attention + Mlp, optional LayerScale; forward(x [B, N, C], mask)",
      SigmoidTransformerBlockOptions(0, 8), MaskedForward{}));
  e.push_back(module_entry<SigmoidAttention1D>(
      "sigmoid_attn", "SigmoidAttention1D", "attnzoo::modules::SigmoidAttention1D",
      "sigmoid attention on sequences: key padding mask, causal, b = -log n", SigmoidAttention1DOptions(0, 0),
      MaskedForward{}));
}

}  // namespace attnzoo::modules
