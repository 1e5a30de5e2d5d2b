#include <attnzoo/modules/moh.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/init.h>
#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "module_entry.h"
#include "moh_core.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

std::pair<at::Tensor, at::Tensor> relative_position_cpb(std::vector<int64_t> query_size, std::vector<int64_t> key_size,
                                                        std::vector<int64_t> pretrain_size) {
  if (pretrain_size.empty()) pretrain_size = query_size;
  TORCH_CHECK(query_size.size() == 2 && key_size.size() == 2 && pretrain_size.size() == 2 && pretrain_size[0] > 1 &&
                  pretrain_size[1] > 1,
              "relative_position_cpb: sizes are [H, W] with a pretraining size above 1");
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto axis = [&](int64_t q, int64_t k) {
    const at::Tensor aq = torch::arange(q, f32);
    return std::make_pair(aq, torch::adaptive_avg_pool1d(aq.unsqueeze(0), {k}).squeeze(0));
  };
  auto [qh, kh] = axis(query_size[0], key_size[0]);
  auto [qw, kw] = axis(query_size[1], key_size[1]);
  const auto kg = torch::meshgrid({kh, kw}, "ij"), qg = torch::meshgrid({qh, qw}, "ij");
  const at::Tensor rel_h = (qg[0].reshape(-1).unsqueeze(1) - kg[0].reshape(-1).unsqueeze(0)) / static_cast<double>(pretrain_size[0] - 1) * 8;
  const at::Tensor rel_w = (qg[1].reshape(-1).unsqueeze(1) - kg[1].reshape(-1).unsqueeze(0)) / static_cast<double>(pretrain_size[1] - 1) * 8;
  const at::Tensor rel = torch::stack({rel_h, rel_w}, -1).view({-1, 2});
  auto [table, idx, counts] = at::unique_dim(rel, 0, /*sorted=*/true, /*return_inverse=*/true, /*return_counts=*/false);
  table = torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / torch::log2(torch::tensor(8.0, f32));
  return {idx, table};
}

namespace detail {

HeadGates moh_head_gates(const at::Tensor& tokens, int64_t B, int64_t N, int64_t shared, int64_t routed, nn::Linear& wg,
                         nn::Linear& wg_0, nn::Linear& wg_1, bool training) {
  HeadGates out;
  if (routed == 0) {
    out.gates = torch::softmax(wg_1(tokens), 1).reshape({B, N, -1}) * static_cast<double>(shared);
    return out;
  }
  const at::Tensor gates = torch::softmax(wg(tokens), 1);
  const int64_t E = gates.size(1);
  const at::Tensor mask = F::one_hot(std::get<1>(torch::topk(gates, routed, 1)), E).sum(1);
  if (training)
    out.load_balancing_loss = torch::mean(gates.mean(0) * mask.to(gates.scalar_type()).mean(0)) * static_cast<double>(E * E);
  at::Tensor routed_gates = gates * mask;
  const double eps = gates.scalar_type() == at::kDouble ? std::numeric_limits<double>::epsilon()
                                                        : static_cast<double>(std::numeric_limits<float>::epsilon());
  routed_gates = routed_gates / routed_gates.sum(1, true).clamp_min(eps);
  routed_gates = routed_gates.reshape({B, N, -1}) * static_cast<double>(routed);
  if (shared == 0) {
    out.gates = routed_gates;
    return out;
  }
  at::Tensor shared_gates = shared > 1 ? torch::softmax(wg_1(tokens), 1).reshape({B, N, -1}) * static_cast<double>(shared)
                                       : torch::ones({B, N, shared}, tokens.options()) * static_cast<double>(shared);
  const at::Tensor balance = torch::softmax(wg_0(tokens), 1).reshape({B, N, 2}) * 2.0;
  out.gates = torch::cat({balance.narrow(2, 0, 1) * shared_gates, balance.narrow(2, 1, 1) * routed_gates}, 2);
  return out;
}

void register_moh_routers(nn::Module& m, int64_t dim, int64_t heads, int64_t shared, int64_t routed, nn::Linear& wg,
                          nn::Linear& wg_0, nn::Linear& wg_1) {
  TORCH_CHECK(shared >= 0 && routed >= 0 && shared + routed <= heads, "MoH: shared_head ", shared, " + routed_head ", routed,
              " exceed num_heads ", heads);
  TORCH_CHECK(routed > 0 || shared > 1, "MoH: without routed heads the official module needs shared_head > 1 (its wg_1)");
  TORCH_CHECK(routed > 0 || shared == heads, "MoH: without routed heads every head is shared: shared_head ", shared,
              " != num_heads ", heads);
  if (routed > 0) {
    wg = m.register_module("wg", nn::Linear(nn::LinearOptions(dim, heads - shared).bias(false)));
    if (shared > 0) wg_0 = m.register_module("wg_0", nn::Linear(nn::LinearOptions(dim, 2).bias(false)));
  }
  if (shared > 1) wg_1 = m.register_module("wg_1", nn::Linear(nn::LinearOptions(dim, shared).bias(false)));
}

at::Tensor moh_initial_temperature(int64_t heads) {
  return torch::log(torch::exp(torch::ones({heads, 1, 1}) / 0.24) - 1);  // softplus(temperature) = 1 / 0.24
}

at::Tensor moh_position_bias(nn::Linear& cpb_fc1, nn::Linear& cpb_fc2, const at::Tensor& relative_pos_index,
                             const at::Tensor& relative_coords_table, int64_t Nq, const at::Tensor& like) {
  return cpb_fc2(torch::relu(cpb_fc1(relative_coords_table.to(like.options()))))
      .transpose(0, 1)
      .index_select(1, relative_pos_index.to(like.device()).reshape(-1))
      .view({-1, Nq, relative_pos_index.numel() / Nq});
}

}  // namespace detail

namespace {

/// Length-scaled cosine logits: (normalize(q) + query_embedding) * softplus(temperature) * log(n) . normalize(k).
at::Tensor cosine_logits(const at::Tensor& q, const at::Tensor& k, const at::Tensor& query_embedding,
                         const at::Tensor& temperature, double length_scale) {
  const auto unit = F::NormalizeFuncOptions().dim(-1);
  return torch::matmul((F::normalize(q, unit) + query_embedding) * F::softplus(temperature) * length_scale,
                       F::normalize(k, unit).transpose(-2, -1));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// MoHAttention

MoHAttentionImpl::MoHAttentionImpl(const MoHAttentionOptions& o) : options(o) { reset(); }

void MoHAttentionImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "MoHAttention: dim ", C, " should be divided by num_heads ", H);
  TORCH_CHECK(options.input_resolution().size() == 2, "MoHAttention: input_resolution is [H, W]");
  temperature = register_parameter("temperature", detail::moh_initial_temperature(H));
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  query_embedding = register_parameter("query_embedding", torch::empty({H, 1, C / H}));
  trunc_normal_(query_embedding, 0.02);
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(C, C));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
  cpb_fc1 = register_module("cpb_fc1", nn::Linear(2, 512));
  cpb_fc2 = register_module("cpb_fc2", nn::Linear(512, H));
  detail::register_moh_routers(*this, C, H, options.shared_head(), options.routed_head(), wg, wg_0, wg_1);
}

at::Tensor MoHAttentionImpl::forward(const at::Tensor& x, int64_t Hm, int64_t Wm, const at::Tensor& relative_pos_index,
                                     const at::Tensor& relative_coords_table) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim() && x.size(1) == Hm * Wm, "MoHAttention: expected [B, ", Hm * Wm,
              ", ", options.dim(), "], got ", x.sizes());
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads();
  const at::Tensor tokens = x.reshape({B * N, C});
  HeadGates g = detail::moh_head_gates(tokens, B, N, options.shared_head(), options.routed_head(), wg, wg_0, wg_1, is_training());
  load_balancing_loss = g.load_balancing_loss;
  const auto parts = qkv(x).reshape({B, N, 3 * H, C / H}).permute({0, 2, 1, 3}).chunk(3, 1);
  const at::Tensor rel_bias = detail::moh_position_bias(cpb_fc1, cpb_fc2, relative_pos_index, relative_coords_table, N, x);
  const auto& res = options.input_resolution();
  const double length_scale = std::log(static_cast<double>(res[0] * res[1]));
  at::Tensor attn = cosine_logits(parts[0], parts[1], query_embedding, temperature, length_scale) + rel_bias;
  attn = attn_drop(torch::softmax(attn, -1));
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_global_geometry(*r, {Hm, Wm}, {Hm, Wm});
  const at::Tensor heads = torch::matmul(attn, parts[2]).transpose(1, 2);  // [B, N, heads, d]
  return proj_drop(proj((heads * g.gates.unsqueeze(-1)).reshape({B, N, C})));
}

at::Tensor MoHAttentionImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const auto [idx, table] = relative_position_cpb({H, W}, {H, W}, options.input_resolution());
  return forward(x, H, W, idx.to(x.device()), table.to(x.device()));
}

// ---------------------------------------------------------------------------------------------------------------
// MoHAttention1D

MoHAttention1DImpl::MoHAttention1DImpl(const MoHAttention1DOptions& o) : options(o) { reset(); }

void MoHAttention1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "MoHAttention1D: dim ", C, " is not divisible by num_heads ", H);
  temperature = register_parameter("temperature", detail::moh_initial_temperature(H));
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  query_embedding = register_parameter("query_embedding", torch::empty({H, 1, C / H}));
  trunc_normal_(query_embedding, 0.02);
  proj = register_module("proj", nn::Linear(C, C));
  detail::register_moh_routers(*this, C, H, options.shared_head(), options.routed_head(), wg, wg_0, wg_1);
}

at::Tensor MoHAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "MoHAttention1D: expected [B, L, ", options.dim(), "], got ", x.sizes());
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads();
  if (mask.defined())
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == L && mask.scalar_type() == at::kBool,
                "MoHAttention1D: key padding mask must be bool [", B, ", ", L, "], got ", mask.sizes());
  HeadGates g = detail::moh_head_gates(x.reshape({B * L, C}), B, L, options.shared_head(), options.routed_head(), wg, wg_0, wg_1, is_training());
  load_balancing_loss = g.load_balancing_loss;
  const auto parts = qkv(x).reshape({B, L, 3 * H, C / H}).permute({0, 2, 1, 3}).chunk(3, 1);
  at::Tensor logits = cosine_logits(parts[0], parts[1], query_embedding, temperature, std::log(static_cast<double>(std::max<int64_t>(L, 2))));
  if (mask.defined()) logits = logits.masked_fill(mask.view({B, 1, 1, L}), -std::numeric_limits<double>::infinity());
  const at::Tensor heads = torch::matmul(torch::softmax(logits, -1), parts[2]).transpose(1, 2);
  const at::Tensor y = proj((heads * g.gates.unsqueeze(-1)).reshape({B, L, C}));
  return mask.defined() ? y.masked_fill(mask.unsqueeze(-1), 0.0) : y;
}

// ---------------------------------------------------------------------------------------------------------------
// Registries

namespace {

/// forward(x, H, W[, relative_pos_index, relative_coords_table]): the map size from extra {"H", "W"}.
struct TablesForward {
  static std::vector<std::string> inputs() { return {"x", "relative_pos_index", "relative_coords_table"}; }
  static std::vector<std::string> forward_args() { return {"H", "W"}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    return {m.ptr(), [m](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
              TORCH_CHECK(in.size() == 1 || in.size() == 3, "this module takes x [, relative_pos_index, relative_coords_table]");
              if (!extra.contains("H") || !extra.contains("W")) throw std::invalid_argument("this module needs extra {\"H\", \"W\"}");
              const int64_t H = extra.at("H").get<int64_t>(), W = extra.at("W").get<int64_t>();
              return std::vector<at::Tensor>{in.size() == 3 ? m->forward(in[0], H, W, in[1], in[2]) : m->forward(in[0], H, W)};
            }};
  }
};

/// forward(x) -> (tokens, H, W): the tokens.
struct PatchTokensForward {
  static std::vector<std::string> inputs() { return {"x"}; }
  static std::vector<std::string> forward_args() { return {}; }
  BuiltModule operator()(TransNeXtPatchEmbed m) const {
    return {m.ptr(), [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
              TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
              return std::vector<at::Tensor>{std::get<0>(m->forward(in[0]))};
            }};
  }
};

}  // namespace

void register_moh_modules(ModuleEntries& e) {
  e.push_back(module_entry<MoHAttention>("moh", "Attention", "attnzoo::modules::MoHAttention",
                                         "mixture-of-head attention (TransNeXt cosine attention, routed + shared heads)",
                                         MoHAttentionOptions(0, {0, 0}), TablesForward{}));
  e.push_back(module_entry<AggregatedAttention>("moh", "AggregatedAttention", "attnzoo::modules::AggregatedAttention",
                                                "TransNeXt aggregated attention (local windows + pooled tokens) with MoH head routing",
                                                AggregatedAttentionOptions(0, {0, 0}), TablesForward{}));
  e.push_back(module_entry<ConvolutionalGLU>("moh", "ConvolutionalGLU", "attnzoo::modules::ConvolutionalGLU",
                                             "TransNeXt convolutional GLU (3x3 depthwise gate) on tokens", ConvolutionalGLUOptions(0),
                                             MapForward{}));
  e.push_back(module_entry<TransNeXtBlock>("moh", "Block", "attnzoo::modules::TransNeXtBlock",
                                           "MoH-TransNeXt block: aggregated (or global) MoH attention + ConvolutionalGLU",
                                           TransNeXtBlockOptions(0, 0, {0, 0}), TablesForward{}));
  e.push_back(module_entry<TransNeXtPatchEmbed>("moh", "OverlapPatchEmbed", "attnzoo::modules::TransNeXtPatchEmbed",
                                                "TransNeXt overlapping patch embedding (conv + token LayerNorm)",
                                                TransNeXtPatchEmbedOptions(), PatchTokensForward{}));
  e.push_back(module_entry<MoHAttention1D>("moh", "MoHAttention1D", "attnzoo::modules::MoHAttention1D",
                                           "mixture-of-head attention along a sequence (key padding mask)",
                                           MoHAttention1DOptions(0, 0), MaskedForward{}));
}

void register_moh_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"moh", "MoHAttention1D: mixture-of-head attention, half the heads shared, a quarter routed per token (75 % active)",
               [](const SequenceAttentionSpec& s) {
                 const int64_t H = s.num_heads, shared = H >= 4 ? H / 2 : 1, routed = H >= 4 ? H / 4 : 1;
                 return sequence_attention(MoHAttention1D(MoHAttention1DOptions(s.dim, H).shared_head(shared).routed_head(routed)));
               }});
}

}  // namespace attnzoo::modules
