#include <attnzoo/modules/bra.h>
#include <attnzoo/modules/depthwise.h>

#include <attnzoo/modules/attention.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

TopkRoutingImpl::TopkRoutingImpl(int64_t qk_dim_, int64_t topk_, double scale_, bool param_routing_, bool diff_routing_)
    : qk_dim(qk_dim_), topk(topk_), scale(scale_), param_routing(param_routing_), diff_routing(diff_routing_) {
  reset();
}

void TopkRoutingImpl::reset() {
  if (param_routing) emb = register_module("emb", nn::Linear(qk_dim, qk_dim));
}

std::pair<at::Tensor, at::Tensor> TopkRoutingImpl::forward(const at::Tensor& query, const at::Tensor& key) {
  at::Tensor q = diff_routing ? query : query.detach();
  at::Tensor k = diff_routing ? key : key.detach();
  if (emb) {
    q = emb(q);
    k = emb(k);
  }
  const auto logit = torch::matmul(q * scale, k.transpose(-2, -1));  // [n, p2, p2]
  TORCH_CHECK(topk <= logit.size(-1), "BiLevelRoutingAttention: topk ", topk, " exceeds the number of windows ",
              logit.size(-1));
  auto [top_logit, top_index] = logit.topk(topk, -1);
  return {top_logit.softmax(-1), top_index};
}

QKVLinearImpl::QKVLinearImpl(int64_t dim_, int64_t qk_dim_, bool bias_) : dim(dim_), qk_dim(qk_dim_), bias(bias_) { reset(); }

void QKVLinearImpl::reset() {
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 2 * qk_dim + dim).bias(bias)));
}

std::pair<at::Tensor, at::Tensor> QKVLinearImpl::forward(const at::Tensor& x) {
  const auto y = qkv(x);
  return {y.narrow(-1, 0, qk_dim), y.narrow(-1, qk_dim, qk_dim + dim)};
}

BiLevelRoutingAttentionImpl::BiLevelRoutingAttentionImpl(const BiLevelRoutingAttentionOptions& options_)
    : options(options_) {
  reset();
}

void BiLevelRoutingAttentionImpl::reset() {
  auto& o = options;
  const int64_t dim = o.dim();
  if (o.qk_dim() <= 0) o.qk_dim(dim);
  TORCH_CHECK(o.qk_dim() % o.num_heads() == 0 && dim % o.num_heads() == 0,
              "BiLevelRoutingAttention: qk_dim and dim must be divisible by num_heads");
  TORCH_CHECK(!(o.param_routing() && !o.diff_routing()), "BiLevelRoutingAttention: param_routing needs diff_routing");
  TORCH_CHECK(!(o.diff_routing() && !o.soft_routing()),
              "BiLevelRoutingAttention: differentiable hard routing is not implemented (as in the official code)");
  const std::string& m = o.kv_downsample_mode();
  TORCH_CHECK(m == "identity" || m == "ada_avgpool" || m == "ada_maxpool" || m == "avgpool" || m == "maxpool",
              "BiLevelRoutingAttention: kv_downsample_mode '", m,
              "' is not supported (identity, ada_avgpool, ada_maxpool, avgpool, maxpool)");
  TORCH_CHECK(o.param_attention() == "qkvo" || o.param_attention() == "qkv",
              "BiLevelRoutingAttention: param_attention must be qkvo or qkv");
  const double scale = o.qk_scale() > 0 ? o.qk_scale() : std::pow(static_cast<double>(o.qk_dim()), -0.5);
  if (o.side_dwconv() > 0)
    lepe = register_module("lepe", nn::Conv2d(nn::Conv2dOptions(dim, dim, o.side_dwconv()).padding(o.side_dwconv() / 2).groups(dim)));
  router = register_module("router", TopkRouting(o.qk_dim(), o.topk(), scale, o.param_routing(), o.diff_routing()));
  qkv = register_module("qkv", QKVLinear(dim, o.qk_dim()));
  if (o.param_attention() == "qkvo") wo = register_module("wo", nn::Linear(dim, dim));
}

at::Tensor BiLevelRoutingAttentionImpl::kv_down(const at::Tensor& x) const {
  const std::string& m = options.kv_downsample_mode();
  if (m == "ada_avgpool") return torch::adaptive_avg_pool2d(x, {options.kv_per_win(), options.kv_per_win()});
  if (m == "ada_maxpool") return std::get<0>(torch::adaptive_max_pool2d(x, {options.kv_per_win(), options.kv_per_win()}));
  const int64_t r = options.kv_downsample_ratio();
  if (m == "avgpool" && r > 1) return torch::avg_pool2d(x, {r, r});
  if (m == "maxpool" && r > 1) return torch::max_pool2d(x, {r, r});
  return x;
}

at::Tensor BiLevelRoutingAttentionImpl::forward(const at::Tensor& x_in) {
  const auto& o = options;
  TORCH_CHECK(x_in.dim() == 4 && x_in.size(3) == o.dim(), "BiLevelRoutingAttention: expected NHWC [N, H, W, ", o.dim(),
              "], got ", x_in.sizes());
  const int64_t nw = o.n_win();
  at::Tensor x = x_in;
  const int64_t H_in = x.size(1), W_in = x.size(2);
  if (o.auto_pad()) {
    const int64_t pad_b = (nw - H_in % nw) % nw, pad_r = (nw - W_in % nw) % nw;
    if (pad_b || pad_r) x = F::pad(x, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  } else {
    TORCH_CHECK(H_in % nw == 0 && W_in % nw == 0, "BiLevelRoutingAttention: H and W (", H_in, "x", W_in,
                ") must be multiples of n_win = ", nw, " (or use auto_pad)");
  }
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = o.dim(), qk = o.qk_dim(), M = o.num_heads();
  const int64_t h = H / nw, w = W / nw, p2 = nw * nw;

  // "n (j h) (i w) c -> n (j i) h w c": windows in row-major order over the window grid.
  const auto xw = x.view({N, nw, h, nw, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({N, p2, h, w, C});
  auto [q, kv] = qkv(xw);  // [N, p2, h, w, qk], [N, p2, h, w, qk + C]
  const int64_t ckv = qk + C;
  const auto q_pix = q.reshape({N, p2, h * w, qk});
  auto kv_pix = kv_down(kv.reshape({N * p2, h, w, ckv}).permute({0, 3, 1, 2}));  // [(N p2), ckv, hk, wk]
  const int64_t kv_n = kv_pix.size(2) * kv_pix.size(3);
  kv_pix = kv_pix.reshape({N, p2, ckv, kv_n}).permute({0, 1, 3, 2});             // [N, p2, kv_n, ckv]
  const auto q_win = q.mean({2, 3});
  const auto k_win = kv.narrow(-1, 0, qk).mean({2, 3});

  // LePE on the full-resolution v, "n (j i) h w c -> n c (j h) (i w)", and back to NHWC.
  at::Tensor lepe_out;
  if (lepe) {
    const auto v_img = kv.narrow(-1, qk, C).reshape({N, nw, nw, h, w, C}).permute({0, 5, 1, 3, 2, 4}).reshape({N, C, H, W});
    lepe_out = depthwise_conv2d(v_img, *lepe).permute({0, 2, 3, 1});
  }

  auto [r_weight, r_idx] = router(q_win, k_win);  // [N, p2, topk]
  last_routing = r_idx;
  const int64_t K = r_idx.size(-1);
  // Gather the kv of each query window's top-k windows, in top-k order: [N, p2, K, kv_n, ckv].
  auto sel = torch::gather(kv_pix.view({N, 1, p2, kv_n, ckv}).expand({N, p2, p2, kv_n, ckv}), 2,
                           r_idx.view({N, p2, K, 1, 1}).expand({N, p2, K, kv_n, ckv}));
  if (o.soft_routing()) sel = r_weight.view({N, p2, K, 1, 1}) * sel;
  const int64_t cq = qk / M, cv = C / M;
  // 'n p2 k w2 (m c) -> (n p2) m c (k w2)' and 'n p2 k w2 (m c) -> (n p2) m (k w2) c'
  const auto k_sel = sel.narrow(-1, 0, qk).reshape({N, p2, K, kv_n, M, cq}).permute({0, 1, 4, 5, 2, 3}).reshape({N * p2, M, cq, K * kv_n});
  const auto v_sel = sel.narrow(-1, qk, C).reshape({N, p2, K, kv_n, M, cv}).permute({0, 1, 4, 2, 3, 5}).reshape({N * p2, M, K * kv_n, cv});
  const auto q_h = q_pix.reshape({N, p2, h * w, M, cq}).permute({0, 1, 3, 2, 4}).reshape({N * p2, M, h * w, cq});
  const double scale = router->scale;
  const auto attn = torch::matmul(q_h * scale, k_sel).softmax(-1);
  auto out = torch::matmul(attn, v_sel);  // [(N p2), M, h w, cv]
  // '(n j i) m (h w) c -> n (j h) (i w) (m c)'
  out = out.view({N, nw, nw, M, h, w, cv}).permute({0, 1, 4, 2, 5, 3, 6}).reshape({N, H, W, C});
  if (lepe_out.defined()) out = out + lepe_out;
  if (wo) out = wo(out);
  if (H != H_in || W != W_in) out = out.narrow(1, 0, H_in).narrow(2, 0, W_in).contiguous();
  return out;
}

AttentionLePEImpl::AttentionLePEImpl(const AttentionLePEOptions& options_) : options(options_) { reset(); }

void AttentionLePEImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(C % options.num_heads() == 0, "AttentionLePE: dim ", C, " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(C, C));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
  if (options.side_dwconv() > 0)
    lepe = register_module("lepe", nn::Conv2d(nn::Conv2dOptions(C, C, options.side_dwconv()).padding(options.side_dwconv() / 2).groups(C)));
}

at::Tensor AttentionLePEImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(3) == options.dim(), "AttentionLePE: expected NHWC [N, H, W, ", options.dim(),
              "], got ", x.sizes());
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), M = options.num_heads();
  const auto t = x.reshape({B, H * W, C});
  const double scale = options.qk_scale() > 0 ? options.qk_scale() : std::pow(static_cast<double>(C / M), -0.5);
  const auto qkv_ = qkv(t).reshape({B, H * W, 3, M, C / M}).permute({2, 0, 3, 1, 4});
  auto y = scaled_dot_product(qkv_[0], qkv_[1], qkv_[2], scale, attn_drop).transpose(1, 2).reshape({B, H * W, C});
  if (lepe) y = y + depthwise_conv2d(x.permute({0, 3, 1, 2}), *lepe).flatten(2).transpose(1, 2);
  return proj_drop(proj(y)).reshape({B, H, W, C});
}

}  // namespace attnzoo::modules
