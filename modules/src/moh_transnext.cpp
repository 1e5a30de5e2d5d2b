// MoH-TransNeXt's modules (SkyworkAI/MoH MoH-ViT/attention_native.py, transnext.py): AggregatedAttention,
// ConvolutionalGLU, the Block and the patch embedding.
#include <attnzoo/modules/moh.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "moh_core.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

/// The k x k neighbourhood (zero padding k / 2) of every position of an H x W map: unfold of ones.
at::Tensor window_coverage(int64_t H, int64_t W, int64_t k) {
  return F::unfold(torch::ones({1, 1, H, W}), F::UnfoldFuncOptions({k, k}).padding(k / 2)).squeeze(0);  // [k^2, N]
}

at::Tensor l2_normalize(const at::Tensor& t) { return F::normalize(t, F::NormalizeFuncOptions().dim(-1)); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// AggregatedAttention

AggregatedAttentionImpl::AggregatedAttentionImpl(const AggregatedAttentionOptions& o) : options(o) { reset(); }

void AggregatedAttentionImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads(), k = options.window_size();
  TORCH_CHECK(H > 0 && C % H == 0, "AggregatedAttention: dim ", C, " should be divided by num_heads ", H);
  TORCH_CHECK(k >= 1 && k % 2 == 1, "AggregatedAttention: window size must be odd, got ", k);
  const auto& res = options.input_resolution();
  TORCH_CHECK(res.size() == 2 && res[0] >= 1 && res[1] >= 1, "AggregatedAttention: input_resolution is [H, W]");
  TORCH_CHECK(options.sr_ratio() >= 1, "AggregatedAttention: sr_ratio must be at least 1");
  if (options.fixed_pool_size() > 0) {
    TORCH_CHECK(options.fixed_pool_size() < std::min(res[0], res[1]), "AggregatedAttention: fixed_pool_size ",
                options.fixed_pool_size(), " must be less than the shorter side of the input resolution");
    pool_hw_ = {options.fixed_pool_size(), options.fixed_pool_size()};
  } else {
    pool_hw_ = {res[0] / options.sr_ratio(), res[1] / options.sr_ratio()};
  }
  TORCH_CHECK(pool_hw_[0] >= 1 && pool_hw_[1] >= 1, "AggregatedAttention: sr_ratio ", options.sr_ratio(),
              " pools the ", res[0], "x", res[1], " map to nothing");
  const int64_t d = C / H, L = k * k, P = pool_hw_[0] * pool_hw_[1];
  // Registration order = the official state_dict order: own parameters, then the submodules.
  temperature = register_parameter("temperature", detail::moh_initial_temperature(H));
  q = register_module("q", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  query_embedding = register_parameter("query_embedding", torch::empty({H, 1, d}));
  trunc_normal_(query_embedding, 0.02);
  kv = register_module("kv", nn::Linear(nn::LinearOptions(C, 2 * C).bias(options.qkv_bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(C, C));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
  sr = register_module("sr", nn::Conv2d(nn::Conv2dOptions(C, C, 1)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  cpb_fc1 = register_module("cpb_fc1", nn::Linear(2, 512));
  cpb_fc2 = register_module("cpb_fc2", nn::Linear(512, H));
  relative_pos_bias_local = register_parameter("relative_pos_bias_local", torch::empty({H, L}));
  trunc_normal_(relative_pos_bias_local, 0.0004);
  learnable_tokens = register_parameter("learnable_tokens", torch::empty({H, d, L}));
  trunc_normal_(learnable_tokens, 0.02);
  learnable_bias = register_parameter("learnable_bias", torch::zeros({H, 1, L}));
  detail::register_moh_routers(*this, C, H, options.shared_head(), options.routed_head(), wg, wg_0, wg_1);
  const at::Tensor coverage = window_coverage(res[0], res[1], k);
  // float32 as the official numpy log of a float32 tensor; converted to the input's dtype in forward.
  seq_length_scale_ = torch::log(coverage.sum(0).unsqueeze(-1) + static_cast<double>(P));
  padding_mask_ = coverage.t().eq(0);
}

namespace {
// Rows [B, heads, N, k*k + P] over the query's k x k neighbours (zero-padded borders are masked) and the P tokens
// of the adaptive average pool; a pooled token's weight is spread evenly over the cells of its bin.
void set_aggregated_geometry(AttentionRecord& r, std::array<int64_t, 2> size, int64_t k, std::array<int64_t, 2> pool) {
  r.query_grid = size;
  r.key_grid = size;
  const at::Tensor w = r.weights;
  r.head_labels.assign(w.size(1), "local + pooled");
  r.query_map = [w, size, k, pool](int64_t b, int64_t y, int64_t x) {
    const at::Tensor row = w[b].select(1, y * size[1] + x).to(torch::kCPU, torch::kFloat64);  // [heads, k*k + P]
    at::Tensor map = torch::zeros({w.size(1), size[0], size[1]}, torch::kFloat64);
    for (int64_t i = 0; i < k * k; ++i) {
      const int64_t py = y - k / 2 + i / k, px = x - k / 2 + i % k;
      if (py >= 0 && px >= 0 && py < size[0] && px < size[1]) map.select(1, py).select(1, px) += row.select(1, i);
    }
    for (int64_t i = 0; i < pool[0]; ++i)
      for (int64_t j = 0; j < pool[1]; ++j) {  // adaptive pooling bins: [floor(i H / p), ceil((i + 1) H / p))
        const int64_t y0 = i * size[0] / pool[0], y1 = ((i + 1) * size[0] + pool[0] - 1) / pool[0];
        const int64_t x0 = j * size[1] / pool[1], x1 = ((j + 1) * size[1] + pool[1] - 1) / pool[1];
        const at::Tensor v = row.select(1, k * k + i * pool[1] + j) / double((y1 - y0) * (x1 - x0));
        map.slice(1, y0, y1).slice(2, x0, x1) += v.view({-1, 1, 1});
      }
    return map;
  };
}
}  // namespace

AggregatedAttentionImpl::Scores AggregatedAttentionImpl::scores(const at::Tensor& x, const at::Tensor& q_scaled, int64_t Hm,
                                                                 int64_t Wm, const at::Tensor& relative_pos_index,
                                                                 const at::Tensor& relative_coords_table) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const int64_t k = options.window_size(), L = k * k, P = pool_hw_[0] * pool_hw_[1];
  // Local keys / values: the k x k neighbourhood of every query, keys l2-normalised per head.
  const auto local = kv(x).chunk(2, -1);
  const at::Tensor k_unit = l2_normalize(local[0].reshape({B, N, H, d})).reshape({B, N, C});
  const at::Tensor kv_map = torch::cat({k_unit, local[1]}, -1).permute({0, 2, 1}).reshape({B, 2 * C, Hm, Wm});
  const auto kv_local = F::unfold(kv_map, F::UnfoldFuncOptions({k, k}).padding(k / 2))
                            .reshape({B, 2 * H, d, L, N})
                            .permute({0, 1, 4, 2, 3})
                            .chunk(2, 1);  // [B, H, N, d, L] each
  const at::Tensor local_logits =
      (torch::matmul(q_scaled.unsqueeze(-2), kv_local[0]).squeeze(-2) + relative_pos_bias_local.unsqueeze(1))
          .masked_fill(padding_mask_.to(x.device()), -std::numeric_limits<double>::infinity());
  // Pooled keys / values: 1x1 conv, GELU, adaptive average pool, LayerNorm, the same kv projection.
  at::Tensor pooled = x.permute({0, 2, 1}).reshape({B, C, Hm, Wm});
  pooled = F::adaptive_avg_pool2d(F::gelu(sr(pooled)), F::AdaptiveAvgPool2dFuncOptions({pool_hw_[0], pool_hw_[1]}));
  pooled = norm(pooled.reshape({B, C, P}).permute({0, 2, 1}));
  const auto kv_pool = kv(pooled).reshape({B, P, 2 * H, d}).permute({0, 2, 1, 3}).chunk(2, 1);
  const at::Tensor pool_bias =
      detail::moh_position_bias(cpb_fc1, cpb_fc2, relative_pos_index, relative_coords_table, N, x);
  const at::Tensor pool_logits = torch::matmul(q_scaled, l2_normalize(kv_pool[0]).transpose(-2, -1)) + pool_bias;
  return {torch::cat({local_logits, pool_logits}, -1), kv_local[1], kv_pool[1]};
}

at::Tensor AggregatedAttentionImpl::forward(const at::Tensor& x, int64_t Hm, int64_t Wm, const at::Tensor& relative_pos_index,
                                            const at::Tensor& relative_coords_table) {
  const auto& res = options.input_resolution();
  TORCH_CHECK(Hm == res[0] && Wm == res[1], "AggregatedAttention: built for a ", res[0], "x", res[1], " map, got ", Hm, "x", Wm);
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim() && x.size(1) == Hm * Wm, "AggregatedAttention: expected [B, ", Hm * Wm,
              ", ", options.dim(), "], got ", x.sizes());
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const int64_t L = options.window_size() * options.window_size(), P = pool_hw_[0] * pool_hw_[1];
  HeadGates g = detail::moh_head_gates(x.reshape({B * N, C}), B, N, options.shared_head(), options.routed_head(), wg, wg_0,
                                       wg_1, is_training());
  load_balancing_loss = g.load_balancing_loss;
  // Queries: l2-normalised, plus the query embedding, times softplus(temperature) and log(keys seen).
  const at::Tensor q_unit = l2_normalize(q(x).reshape({B, N, H, d}).permute({0, 2, 1, 3}));
  const at::Tensor q_scaled = (q_unit + query_embedding) * F::softplus(temperature) * seq_length_scale_.to(x.options());
  Scores s = scores(x, q_scaled, Hm, Wm, relative_pos_index, relative_coords_table);
  const auto attn = attn_drop(torch::softmax(s.logits, -1)).split({L, P}, -1);
  if (capturing_attention())
    set_aggregated_geometry(*record_attention(this, "softmax", torch::cat({attn[0], attn[1]}, -1)), {Hm, Wm},
                            options.window_size(), {pool_hw_[0], pool_hw_[1]});
  // Local values weighted by the attention plus the query-dependent learnable tokens and bias.
  const at::Tensor local_weights = torch::matmul(q_unit, learnable_tokens) + learnable_bias + attn[0];
  const at::Tensor x_local = torch::matmul(local_weights.unsqueeze(-2), s.v_local.transpose(-2, -1)).squeeze(-2);
  const at::Tensor heads = (x_local + torch::matmul(attn[1], s.v_pool)).transpose(1, 2);  // [B, N, H, d]
  return proj_drop(proj((heads * g.gates.unsqueeze(-1)).reshape({B, N, C})));
}

at::Tensor AggregatedAttentionImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const auto [idx, table] = relative_position_cpb({H, W}, pool_hw_, options.input_resolution());
  return forward(x, H, W, idx, table);
}

// ---------------------------------------------------------------------------------------------------------------
// ConvolutionalGLU

ConvolutionalGLUImpl::ConvolutionalGLUImpl(const ConvolutionalGLUOptions& o) : options(o) { reset(); }

void ConvolutionalGLUImpl::reset() {
  const int64_t in = options.in_features();
  const int64_t out = options.out_features() > 0 ? options.out_features() : in;
  const int64_t hidden = 2 * (options.hidden_features() > 0 ? options.hidden_features() : in) / 3;  // int(2 h / 3)
  TORCH_CHECK(in >= 1 && hidden >= 1, "ConvolutionalGLU: in_features ", in, " leaves no hidden features");
  fc1 = register_module("fc1", nn::Linear(in, 2 * hidden));
  dwconv = register_module("dwconv", DWConv(hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, out));
  drop = register_module("drop", nn::Dropout(options.drop()));
}

at::Tensor ConvolutionalGLUImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) == H * W && x.size(2) == options.in_features(), "ConvolutionalGLU: expected [B, ",
              H * W, ", ", options.in_features(), "], got ", x.sizes());
  const int64_t B = x.size(0);
  const auto halves = fc1(x).chunk(2, -1);
  const int64_t hidden = halves[0].size(-1);
  const at::Tensor map = halves[0].transpose(1, 2).reshape({B, hidden, H, W});
  const at::Tensor gated = F::gelu(dwconv(map).flatten(2).transpose(1, 2)) * halves[1];
  return drop(fc2(drop(gated)));
}

// ---------------------------------------------------------------------------------------------------------------
// TransNeXtBlock

TransNeXtBlockImpl::TransNeXtBlockImpl(const TransNeXtBlockOptions& o) : options(o) { reset(); }

void TransNeXtBlockImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  if (options.sr_ratio() == 1) {
    global_attn = register_module("attn", MoHAttention(MoHAttentionOptions(C, options.input_resolution())
                                                           .num_heads(options.num_heads())
                                                           .qkv_bias(options.qkv_bias())
                                                           .attn_drop(options.attn_drop())
                                                           .proj_drop(options.drop())
                                                           .shared_head(options.shared_head())
                                                           .routed_head(options.routed_head())));
  } else {
    aggregated_attn = register_module("attn", AggregatedAttention(AggregatedAttentionOptions(C, options.input_resolution())
                                                                      .num_heads(options.num_heads())
                                                                      .window_size(options.window_size())
                                                                      .qkv_bias(options.qkv_bias())
                                                                      .attn_drop(options.attn_drop())
                                                                      .proj_drop(options.drop())
                                                                      .sr_ratio(options.sr_ratio())
                                                                      .fixed_pool_size(options.fixed_pool_size())
                                                                      .shared_head(options.shared_head())
                                                                      .routed_head(options.routed_head())));
  }
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  const auto hidden = static_cast<int64_t>(static_cast<double>(C) * options.mlp_ratio());
  mlp = register_module("mlp", ConvolutionalGLU(ConvolutionalGLUOptions(C).hidden_features(hidden).drop(options.drop())));
  drop_path = register_module("drop_path", DropPath(DropPathOptions().p(options.drop_path())));
}

at::Tensor TransNeXtBlockImpl::forward(const at::Tensor& x, int64_t H, int64_t W, const at::Tensor& relative_pos_index,
                                       const at::Tensor& relative_coords_table) {
  const at::Tensor n1 = norm1(x);
  const at::Tensor a = global_attn ? global_attn->forward(n1, H, W, relative_pos_index, relative_coords_table)
                                   : aggregated_attn->forward(n1, H, W, relative_pos_index, relative_coords_table);
  const at::Tensor y = x + drop_path(a);
  return y + drop_path(mlp->forward(norm2(y), H, W));
}

at::Tensor TransNeXtBlockImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const std::vector<int64_t> keys =
      global_attn ? std::vector<int64_t>{H, W} : std::vector<int64_t>{aggregated_attn->pool_height(), aggregated_attn->pool_width()};
  const auto [idx, table] = relative_position_cpb({H, W}, keys, options.input_resolution());
  return forward(x, H, W, idx, table);
}

at::Tensor TransNeXtBlockImpl::load_balancing_loss() const {
  return global_attn ? global_attn->load_balancing_loss : aggregated_attn->load_balancing_loss;
}

// ---------------------------------------------------------------------------------------------------------------
// TransNeXtPatchEmbed

TransNeXtPatchEmbedImpl::TransNeXtPatchEmbedImpl(const TransNeXtPatchEmbedOptions& o) : options(o) { reset(); }

void TransNeXtPatchEmbedImpl::reset() {
  const int64_t k = options.patch_size();
  TORCH_CHECK(k > options.stride() && options.stride() >= 1, "TransNeXtPatchEmbed: set larger patch_size than stride (",
              k, " <= ", options.stride(), ")");
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(options.in_chans(), options.embed_dim(), k)
                                                .stride(options.stride())
                                                .padding(k / 2)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({options.embed_dim()})));
}

std::tuple<at::Tensor, int64_t, int64_t> TransNeXtPatchEmbedImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "TransNeXtPatchEmbed: expected [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  const at::Tensor y = proj(x);
  return {norm(y.flatten(2).transpose(1, 2)), y.size(2), y.size(3)};
}

}  // namespace attnzoo::modules
