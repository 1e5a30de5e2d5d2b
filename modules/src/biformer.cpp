#include <attnzoo/modules/biformer.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/fused_attention.h>
#include <attnzoo/modules/attention.h>

#include <torch/torch.h>

#include <cmath>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void TopkRoutingImpl::reset() {
  const int64_t qk_dim = options.qk_dim();
  scale = options.qk_scale() > 0 ? options.qk_scale() : std::pow(static_cast<double>(qk_dim), -0.5);
  if (options.param_routing()) emb = register_module("emb", nn::Linear(qk_dim, qk_dim));
}

void TopkRoutingImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::TopkRouting(qk_dim=" << options.qk_dim() << ", topk=" << options.topk() << ")";
}

std::pair<at::Tensor, at::Tensor> TopkRoutingImpl::forward(const at::Tensor& query, const at::Tensor& key) {
  const bool diff_routing = options.diff_routing();
  const int64_t topk = options.topk();
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

void QKVLinearImpl::reset() {
  const int64_t dim = options.dim(), qk_dim = options.qk_dim();
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 2 * qk_dim + dim).bias(options.bias())));
}

void QKVLinearImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::QKVLinear(dim=" << options.dim() << ", qk_dim=" << options.qk_dim() << ")";
}

std::pair<at::Tensor, at::Tensor> QKVLinearImpl::forward(const at::Tensor& x) {
  const int64_t dim = options.dim(), qk_dim = options.qk_dim();
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
  const double scale = o.qk_scale() > 0 ? o.qk_scale() : std::pow(static_cast<double>(o.qk_dim()), -0.5);
  if (o.side_dwconv() > 0)
    lepe = register_module("lepe", nn::Conv2d(nn::Conv2dOptions(dim, dim, o.side_dwconv()).padding(o.side_dwconv() / 2).groups(dim)));
  router = register_module("router", TopkRouting(TopkRoutingOptions(o.qk_dim())
                                                      .topk(o.topk())
                                                      .qk_scale(scale)
                                                      .param_routing(o.param_routing())
                                                      .diff_routing(o.diff_routing())));
  qkv = register_module("qkv", QKVLinear(dim, o.qk_dim()));
  if (o.param_attention() == ParamAttention::QKVO) wo = register_module("wo", nn::Linear(dim, dim));
}

at::Tensor BiLevelRoutingAttentionImpl::kv_down(const at::Tensor& x) const {
  const int64_t r = options.kv_downsample_ratio(), side = options.kv_per_win();
  switch (options.kv_downsample_mode()) {
    case KvDownsampleMode::AdaAvgPool: return torch::adaptive_avg_pool2d(x, {side, side});
    case KvDownsampleMode::AdaMaxPool: return std::get<0>(torch::adaptive_max_pool2d(x, {side, side}));
    case KvDownsampleMode::AvgPool: return r > 1 ? torch::avg_pool2d(x, {r, r}) : x;
    case KvDownsampleMode::MaxPool: return r > 1 ? torch::max_pool2d(x, {r, r}) : x;
    case KvDownsampleMode::Identity: break;
  }
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
  const int64_t kv_pix_h = kv_pix.size(2), kv_pix_w = kv_pix.size(3);
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
  // The k and v of each query window's top-k windows, in top-k order: [N, p2, K, kv_n, qk | C]. The official
  // code gathers from kv expanded to [N, p2, p2, kv_n, ckv]; selecting rows of the flattened [N p2, ...] kv
  // copies the same values, and its backward adds into kv-sized gradients instead of zero-filling and
  // scattering into the expanded p2-times larger one (the biggest cost of BiFormer's training step).
  const auto rows = (r_idx + torch::arange(N, r_idx.options()).view({N, 1, 1}) * p2).reshape({-1});
  auto select = [&](int64_t offset, int64_t width) {
    const auto part = kv_pix.narrow(-1, offset, width).reshape({N * p2, kv_n * width});
    auto sel = part.index_select(0, rows).view({N, p2, K, kv_n, width});
    return o.soft_routing() ? r_weight.view({N, p2, K, 1, 1}) * sel : sel;
  };
  const int64_t cq = qk / M, cv = C / M;
  // 'n p2 k w2 (m c) -> (n p2) m (k w2) c' for both (the official k layout, (n p2) m c (k w2), is its transpose:
  // the kernel takes keys as rows).
  const auto k_sel = select(0, qk).reshape({N, p2, K, kv_n, M, cq}).permute({0, 1, 4, 2, 3, 5}).reshape({N * p2, M, K * kv_n, cq});
  const auto v_sel = select(qk, C).reshape({N, p2, K, kv_n, M, cv}).permute({0, 1, 4, 2, 3, 5}).reshape({N * p2, M, K * kv_n, cv});
  const auto q_h = q_pix.reshape({N, p2, h * w, M, cq}).permute({0, 1, 3, 2, 4}).reshape({N * p2, M, h * w, cq});
  const double scale = router->scale;
  // The official code scales q before the product: the kernel gets the scaled q and scale 1.
  auto out = softmax_attention(q_h * scale, k_sel, v_sel, 1.0);  // [(N p2), M, h w, cv]
  if (capturing_attention()) {
    const at::Tensor attn = torch::matmul(q_h * scale, k_sel.transpose(-2, -1)).softmax(-1);  // [(N p2), M, h w, K kv_n]
    AttentionRecord* r = record_attention(this, "routed", attn);
    set_routed_geometry(*r, r_idx, {H_in, W_in}, {nw, nw}, {h, w}, {kv_pix_h, kv_pix_w});
  }
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
  if (capturing_attention())
    set_global_geometry(*record_attention(this, "softmax", (torch::matmul(qkv_[0], qkv_[1].transpose(-2, -1)) * scale).softmax(-1)),
                        {H, W}, {H, W});
  auto y = scaled_dot_product(qkv_[0], qkv_[1], qkv_[2], scale, attn_drop).transpose(1, 2).reshape({B, H * W, C});
  if (lepe) y = y + depthwise_conv2d(x.permute({0, 3, 1, 2}), *lepe).flatten(2).transpose(1, 2);
  return proj_drop(proj(y)).reshape({B, H, W, C});
}

namespace nn = torch::nn;

void DWConvNHWCImpl::reset() {
  const int64_t dim = options.dim();
  dwconv = register_module("dwconv", nn::Conv2d(nn::Conv2dOptions(dim, dim, 3).padding(1).groups(dim)));
}

void DWConvNHWCImpl::pretty_print(std::ostream& os) const { os << "attnzoo::DWConvNHWC(dim=" << options.dim() << ")"; }

at::Tensor DWConvNHWCImpl::forward(const at::Tensor& x) { return depthwise_conv2d(x.permute({0, 3, 1, 2}), *dwconv).permute({0, 2, 3, 1}); }

BiFormerBlockImpl::BiFormerBlockImpl(const BiFormerBlockOptions& options_) : options(options_) { reset(); }

void BiFormerBlockImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim();
  if (o.layer_scale_init_value() > 0) {
    gamma1 = register_parameter("gamma1", torch::full({C}, o.layer_scale_init_value()));
    gamma2 = register_parameter("gamma2", torch::full({C}, o.layer_scale_init_value()));
  }
  // The official padding is 1 whatever the kernel (only kernel 3 keeps the size).
  if (o.before_attn_dwconv() > 0)
    pos_embed = register_module("pos_embed", nn::Conv2d(nn::Conv2dOptions(C, C, o.before_attn_dwconv()).padding(1).groups(C)));
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(1e-6)));
  if (o.topk() > 0) {
    bra = register_module("attn", BiLevelRoutingAttention(BiLevelRoutingAttentionOptions(C)
                                                              .num_heads(o.num_heads())
                                                              .n_win(o.n_win())
                                                              .qk_dim(o.qk_dim())
                                                              .qk_scale(o.qk_scale())
                                                              .kv_per_win(o.kv_per_win())
                                                              .kv_downsample_ratio(o.kv_downsample_ratio())
                                                              .kv_downsample_mode(o.kv_downsample_mode())
                                                              .topk(o.topk())
                                                              .param_attention(o.param_attention())
                                                              .param_routing(o.param_routing())
                                                              .diff_routing(o.diff_routing())
                                                              .soft_routing(o.soft_routing())
                                                              .side_dwconv(o.side_dwconv())
                                                              .auto_pad(o.auto_pad())));
  } else if (o.topk() == -1) {
    plain = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, 8)));
  } else if (o.topk() == -2) {
    attn_lepe = register_module("attn", AttentionLePE(AttentionLePEOptions(C).side_dwconv(o.side_dwconv())));
  } else if (o.topk() == 0) {
    // Rearrange, 1x1 "qkv", depthwise 5x5 "attention", 1x1 "out", Rearrange: keys attn.1/2/3.
    conv_stand_in = register_module("attn", nn::Sequential(nn::Identity(), nn::Conv2d(nn::Conv2dOptions(C, C, 1)),
                                                           nn::Conv2d(nn::Conv2dOptions(C, C, 5).padding(2).groups(C)),
                                                           nn::Conv2d(nn::Conv2dOptions(C, C, 1)), nn::Identity()));
  } else {
    TORCH_CHECK(false, "BiFormer Block: topk must be > 0, 0, -1 or -2, got ", o.topk());
  }
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(1e-6)));
  const int64_t hidden = static_cast<int64_t>(o.mlp_ratio() * C);
  nn::Sequential m;
  m->push_back(nn::Linear(C, hidden));
  if (o.mlp_dwconv()) m->push_back(DWConvNHWC(hidden));
  else if (o.mlp_dwconv_slot()) m->push_back(nn::Identity());
  m->push_back(nn::GELU());
  m->push_back(nn::Linear(hidden, C));
  mlp = register_module("mlp", m);
  drop_path = register_module("drop_path", DropPath(o.drop_path()));
}

at::Tensor BiFormerBlockImpl::attend(const at::Tensor& x) {
  if (bra) return bra(x);
  if (attn_lepe) return attn_lepe(x);
  if (plain) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    const at::Tensor y = plain(x.reshape({B, H * W, C})).reshape({B, H, W, C});
    if (AttentionRecord* r = latest_attention_record(plain.get())) set_global_geometry(*r, {H, W}, {H, W});
    return y;
  }
  return conv_stand_in->forward(x.permute({0, 3, 1, 2})).permute({0, 2, 3, 1});
}

at::Tensor BiFormerBlockImpl::forward(const at::Tensor& x_nchw) {
  TORCH_CHECK(x_nchw.dim() == 4 && x_nchw.size(1) == options.dim(), "BiFormer Block: expected [N, ", options.dim(),
              ", H, W], got ", x_nchw.sizes());
  at::Tensor x = pos_embed ? x_nchw + depthwise_conv2d(x_nchw, *pos_embed) : x_nchw;
  x = x.permute({0, 2, 3, 1});
  auto scaled = [](const at::Tensor& g, const at::Tensor& t) { return g.defined() ? g * t : t; };
  if (options.pre_norm()) {
    x = x + drop_path(scaled(gamma1, attend(norm1(x))));
    x = x + drop_path(scaled(gamma2, mlp->forward(norm2(x))));
  } else {
    x = norm1(x + drop_path(scaled(gamma1, attend(x))));
    x = norm2(x + drop_path(scaled(gamma2, mlp->forward(x))));
  }
  return x.permute({0, 3, 1, 2});
}

void register_biformer_modules(ModuleEntries& e) {
  e.push_back(module_entry<BiLevelRoutingAttention>(
      "biformer", "BiLevelRoutingAttention", "attnzoo::modules::BiLevelRoutingAttention",
      "bi-level routing attention (NHWC): top-k window routing + token attention + LePE", BiLevelRoutingAttentionOptions(0)));
  e.push_back(module_entry<AttentionLePE>("biformer", "AttentionLePE", "attnzoo::modules::AttentionLePE",
                                          "global attention + LePE side branch (NHWC)", AttentionLePEOptions(0)));
  e.push_back(module_entry<BiFormerBlock>("biformer", "Block", "attnzoo::modules::BiFormerBlock",
                                          "BiFormer block (NCHW; attention chosen by topk)", BiFormerBlockOptions(0)));
}

}  // namespace attnzoo::modules
