#include <attnzoo/modules/sequence.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void check_input(const at::Tensor& x, const at::Tensor& mask, int64_t dim, const char* who) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == dim, who, ": expected [B, L, ", dim, "], got ", x.sizes());
  if (mask.defined())
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) &&
                    mask.scalar_type() == at::kBool,
                who, ": key padding mask must be bool [", x.size(0), ", ", x.size(1), "], got ", mask.sizes(), " ",
                mask.scalar_type());
}

// q, k, v [B, heads, L, d] from x [B, L, C] through one qkv Linear (channel = which * C + head * d + e).
std::array<at::Tensor, 3> project(nn::Linear& qkv, const at::Tensor& x, int64_t heads) {
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  const auto t = qkv(x).reshape({B, L, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
  return {t[0], t[1], t[2]};
}

// softmax over the last dim where every entry may be -inf (a fully padded row): such rows give zeros.
at::Tensor safe_softmax(const at::Tensor& logits) {
  const at::Tensor all_masked = logits.isneginf().all(-1, /*keepdim=*/true);
  return logits.masked_fill(all_masked, 0.0).softmax(-1).masked_fill(all_masked, 0.0);
}

at::Tensor merge(const at::Tensor& out, int64_t B, int64_t L, int64_t C) {  // [B, h, L, d] -> [B, L, C]
  return out.transpose(1, 2).reshape({B, L, C});
}

// The padding mask extended to `Lp` tokens (the added positions are padding) as bool [B, Lp]; `before`
// positions are prepended as padding too.
at::Tensor padding_to(const at::Tensor& x, const at::Tensor& mask, int64_t Lp, int64_t before = 0) {
  const int64_t B = x.size(0), L = x.size(1);
  const at::Tensor m = mask.defined() ? mask : torch::zeros({B, L}, torch::TensorOptions().dtype(torch::kBool).device(x.device()));
  return F::pad(m.to(torch::kFloat), F::PadFuncOptions({before, Lp - L}).value(1.0)).to(torch::kBool);
}

}  // namespace

at::Tensor zero_padding(const at::Tensor& x, const at::Tensor& mask) {
  return mask.defined() ? x.masked_fill(mask.unsqueeze(-1), 0.0) : x;
}

SoftmaxAttention1DImpl::SoftmaxAttention1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void SoftmaxAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "SoftmaxAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor SoftmaxAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "SoftmaxAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads();
  auto [q, k, v] = project(qkv, x, h);
  at::Tensor logits = torch::matmul(q * std::pow(static_cast<double>(C / h), -0.5), k.transpose(-2, -1));
  if (mask.defined()) logits = logits.masked_fill(mask.view({B, 1, 1, L}), kNegInf);
  if (options.causal())
    logits = logits.masked_fill(torch::ones({L, L}, torch::kBool).triu(1).to(x.device()), kNegInf);
  return zero_padding(proj(merge(torch::matmul(safe_softmax(logits), v), B, L, C)), mask);
}

BlockLocalAttention1DImpl::BlockLocalAttention1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void BlockLocalAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "BlockLocalAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.block() > 0 && options.halo() >= 0, "BlockLocalAttention1D: block must be > 0, halo >= 0");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor BlockLocalAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "BlockLocalAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads(), d = C / h;
  const int64_t bs = options.block(), hs = options.halo(), nb = (L + bs - 1) / bs, Lp = nb * bs, win = bs + 2 * hs;
  auto [q, k, v] = project(qkv, x, h);
  // Pad to whole blocks (+ the halo on both sides for keys); everything outside the sequence is masked.
  const at::Tensor pad = padding_to(x, mask, Lp + hs, hs);  // [B, Lp + 2hs]
  q = F::pad(q, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, h, nb, bs, d});
  auto windows = [&](const at::Tensor& t) {  // [B, h, L, d] -> [B, h, nb, win, d]
    return F::pad(t, F::PadFuncOptions({0, 0, hs, Lp - L + hs})).unfold(2, win, bs).transpose(-1, -2);
  };
  const at::Tensor kw = windows(k), vw = windows(v);
  const at::Tensor key_pad = pad.unfold(1, win, bs).view({B, 1, nb, 1, win});
  at::Tensor logits = torch::matmul(q * std::pow(static_cast<double>(d), -0.5), kw.transpose(-2, -1));  // [B,h,nb,bs,win]
  logits = logits.masked_fill(key_pad, kNegInf);
  at::Tensor out = torch::matmul(safe_softmax(logits), vw).reshape({B, h, Lp, d}).slice(2, 0, L);
  return zero_padding(proj(merge(out, B, L, C)), mask);
}

AgentAttention1DImpl::AgentAttention1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void AgentAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "AgentAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.agent_num() > 0, "AgentAttention1D: agent_num must be positive");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
  dwc = register_module("dwc", nn::Conv1d(nn::Conv1dOptions(C, C, 3).padding(1).groups(C)));
}

at::Tensor AgentAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "AgentAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads(), d = C / h;
  const int64_t A = options.agent_num();
  auto [q, k, v] = project(qkv, x, h);
  // Agents: the masked mean of the queries over A contiguous bins (adaptive-pool bins over the valid tokens'
  // positions; empty bins give zero agents).
  const at::Tensor valid = mask.defined() ? mask.logical_not().to(q.dtype()) : torch::ones({B, L}, q.options());
  const at::Tensor bins = (torch::arange(L, torch::TensorOptions().dtype(torch::kLong).device(x.device())) * A).div(L, "floor");
  const at::Tensor onehot = F::one_hot(bins, A).to(q.dtype()).unsqueeze(0) * valid.unsqueeze(-1);  // [B, L, A]
  const at::Tensor counts = onehot.sum(1).clamp_min(1.0);                                            // [B, A]
  const at::Tensor agents = torch::matmul(onehot.transpose(1, 2).unsqueeze(1), q) / counts.view({B, 1, A, 1});
  const double scale = std::pow(static_cast<double>(d), -0.5);
  at::Tensor agent_logits = torch::matmul(agents * scale, k.transpose(-2, -1));  // [B, h, A, L]
  if (mask.defined()) agent_logits = agent_logits.masked_fill(mask.view({B, 1, 1, L}), kNegInf);
  const at::Tensor agent_v = torch::matmul(safe_softmax(agent_logits), v);  // [B, h, A, d]
  const at::Tensor q_attn = torch::matmul(q * scale, agents.transpose(-2, -1)).softmax(-1);  // [B, h, L, A]
  at::Tensor out = merge(torch::matmul(q_attn, agent_v), B, L, C);
  const at::Tensor v_seq = zero_padding(merge(v, B, L, C), mask);  // DWC over V without the padded tokens
  out = out + dwc(v_seq.transpose(1, 2)).transpose(1, 2);
  return zero_padding(proj(out), mask);
}

LKA1DImpl::LKA1DImpl(int64_t dim_) : dim(dim_) { reset(); }

void LKA1DImpl::reset() {
  conv0 = register_module("conv0", nn::Conv1d(nn::Conv1dOptions(dim, dim, 5).padding(2).groups(dim)));
  conv_spatial =
      register_module("conv_spatial", nn::Conv1d(nn::Conv1dOptions(dim, dim, 7).padding(9).dilation(3).groups(dim)));
  conv1 = register_module("conv1", nn::Conv1d(nn::Conv1dOptions(dim, dim, 1)));
}

at::Tensor LKA1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, dim, "LKA1D");
  // Padded tokens are zeroed before each depthwise conv, so they never leak into the valid ones.
  const at::Tensor xc = zero_padding(x, mask).transpose(1, 2);
  at::Tensor a = conv0(xc);
  if (mask.defined()) a = a.masked_fill(mask.unsqueeze(1), 0.0);
  a = conv1(conv_spatial(a));
  return zero_padding((xc * a).transpose(1, 2), mask);
}

HiLo1DImpl::HiLo1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void HiLo1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "HiLo1D: dim ", C, " is not divisible by num_heads ", H);
  TORCH_CHECK(options.window() > 0 && options.alpha() >= 0 && options.alpha() <= 1, "HiLo1D: window > 0, alpha in [0, 1]");
  head_dim = C / H;
  l_heads = static_cast<int64_t>(H * options.alpha());  // LITv2: int(num_heads * alpha)
  h_heads = H - l_heads;
  const int64_t l_dim = l_heads * head_dim, h_dim = h_heads * head_dim;
  if (l_heads > 0) {
    l_q = register_module("l_q", nn::Linear(nn::LinearOptions(C, l_dim).bias(options.qkv_bias())));
    l_kv = register_module("l_kv", nn::Linear(nn::LinearOptions(C, 2 * l_dim).bias(options.qkv_bias())));
    l_proj = register_module("l_proj", nn::Linear(l_dim, l_dim));
  }
  if (h_heads > 0) {
    h_qkv = register_module("h_qkv", nn::Linear(nn::LinearOptions(C, 3 * h_dim).bias(options.qkv_bias())));
    h_proj = register_module("h_proj", nn::Linear(h_dim, h_dim));
  }
}

at::Tensor HiLo1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "HiLo1D");
  const int64_t B = x.size(0), L = x.size(1), w = options.window(), nw = (L + w - 1) / w, Lp = nw * w, d = head_dim;
  const double scale = std::pow(static_cast<double>(d), -0.5);
  const at::Tensor xz = zero_padding(x, mask);
  const at::Tensor pad = padding_to(x, mask, Lp);  // [B, Lp]
  std::vector<at::Tensor> outs;
  if (h_heads > 0) {  // Hi-Fi: attention inside each window of w tokens
    const int64_t hd = h_heads * d;
    auto t = F::pad(h_qkv(xz), F::PadFuncOptions({0, 0, 0, Lp - L})).reshape({B, nw, w, 3, h_heads, d}).permute({3, 0, 1, 4, 2, 5});
    at::Tensor logits = torch::matmul(t[0] * scale, t[1].transpose(-2, -1));  // [B, nw, h, w, w]
    logits = logits.masked_fill(pad.view({B, nw, 1, 1, w}), kNegInf);
    const at::Tensor o = torch::matmul(safe_softmax(logits), t[2]).permute({0, 1, 3, 2, 4}).reshape({B, Lp, hd});
    outs.push_back(h_proj(o.slice(1, 0, L)));
  }
  if (l_heads > 0) {  // Lo-Fi: every query attends to the window-averaged keys / values (valid tokens only)
    const int64_t ld = l_heads * d;
    const at::Tensor q = l_q(xz).reshape({B, L, l_heads, d}).permute({0, 2, 1, 3});
    const at::Tensor valid = pad.logical_not().to(x.dtype()).view({B, nw, w, 1});
    const at::Tensor xs = F::pad(xz, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, nw, w, -1});
    const at::Tensor cnt = valid.sum(2);  // [B, nw, 1]
    const at::Tensor pooled = (xs * valid).sum(2) / cnt.clamp_min(1.0);  // [B, nw, C]
    const auto kv = l_kv(pooled).reshape({B, nw, 2, l_heads, d}).permute({2, 0, 3, 1, 4});
    at::Tensor logits = torch::matmul(q * scale, kv[0].transpose(-2, -1));  // [B, h, L, nw]
    logits = logits.masked_fill(cnt.view({B, 1, 1, nw}).eq(0), kNegInf);
    outs.push_back(l_proj(merge(torch::matmul(safe_softmax(logits), kv[1]), B, L, ld)));
  }
  return zero_padding(torch::cat(outs, -1), mask);
}

ChannelGroupAttention1DImpl::ChannelGroupAttention1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void ChannelGroupAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "ChannelGroupAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor ChannelGroupAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "ChannelGroupAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), G = options.num_heads(), d = C / G;
  auto [q, k, v] = project(qkv, x, G);  // [B, G, L, d]
  if (mask.defined()) {  // padded tokens add nothing to the channel Gram matrix
    k = k.masked_fill(mask.view({B, 1, L, 1}), 0.0);
    v = v.masked_fill(mask.view({B, 1, L, 1}), 0.0);
  }
  // davit.py ChannelAttention: softmax((k * scale)^T v) over channels, applied to the queries.
  const at::Tensor attention = torch::matmul((k * std::pow(static_cast<double>(d), -0.5)).transpose(-1, -2), v).softmax(-1);
  const at::Tensor y = torch::matmul(attention, q.transpose(-1, -2)).transpose(-1, -2);  // [B, G, L, d]
  return zero_padding(proj(merge(y, B, L, C)), mask);
}

BiLevelRoutingAttention1DImpl::BiLevelRoutingAttention1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void BiLevelRoutingAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "BiLevelRoutingAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.block() > 0 && options.topk() > 0, "BiLevelRoutingAttention1D: block and topk must be positive");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  lepe = register_module("lepe", nn::Conv1d(nn::Conv1dOptions(C, C, 5).padding(2).groups(C)));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor BiLevelRoutingAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "BiLevelRoutingAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const int64_t r = options.block(), nr = (L + r - 1) / r, Lp = nr * r, topk = std::min(options.topk(), nr);
  auto [q, k, v] = project(qkv, x, H);  // [B, H, L, d]
  const at::Tensor pad = padding_to(x, mask, Lp);  // [B, Lp]
  auto regions = [&](const at::Tensor& t) {  // [B, H, L, d] -> [B, H, nr, r, d]
    return F::pad(t, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, H, nr, r, d});
  };
  const at::Tensor qr = regions(q), kr = regions(k), vr = regions(v);
  const at::Tensor valid = pad.logical_not().to(x.dtype()).view({B, 1, nr, r, 1});
  const at::Tensor cnt = valid.sum(3);  // [B, 1, nr, 1]
  // Region-level routing on the (detached) masked means of q and k over all channels (as BiFormer).
  auto region_mean = [&](const at::Tensor& t) {
    return ((t * valid).sum(3) / cnt.clamp_min(1.0)).detach().permute({0, 2, 1, 3}).reshape({B, nr, C});
  };
  at::Tensor a_r = torch::matmul(region_mean(qr), region_mean(kr).transpose(-1, -2));  // [B, nr, nr]
  a_r = a_r.masked_fill(cnt.view({B, 1, nr}).eq(0), kNegInf);  // never route to an all-padding region
  const at::Tensor idx = std::get<1>(a_r.topk(topk, -1));     // [B, nr, topk]
  // Gather the routed regions' keys / values / padding: [B, H, nr, topk * r, d].
  const at::Tensor gi = idx.view({B, 1, nr, topk, 1, 1}).expand({B, H, nr, topk, r, d});
  auto gather = [&](const at::Tensor& t) {
    return t.unsqueeze(2).expand({B, H, nr, nr, r, d}).gather(3, gi).reshape({B, H, nr, topk * r, d});
  };
  const at::Tensor kg = gather(kr), vg = gather(vr);
  const at::Tensor pad_g = pad.view({B, 1, nr, r}).expand({B, nr, nr, r}).gather(2, idx.view({B, nr, topk, 1}).expand({B, nr, topk, r}))
                               .reshape({B, 1, nr, 1, topk * r});
  at::Tensor logits = torch::matmul(qr * std::pow(static_cast<double>(d), -0.5), kg.transpose(-1, -2));  // [B,H,nr,r,topk*r]
  logits = logits.masked_fill(pad_g, kNegInf);
  at::Tensor out = torch::matmul(safe_softmax(logits), vg).reshape({B, H, Lp, d}).slice(2, 0, L);
  out = merge(out, B, L, C);
  const at::Tensor v_seq = zero_padding(merge(v, B, L, C), mask);  // LePE over V without the padded tokens
  out = out + lepe(v_seq.transpose(1, 2)).transpose(1, 2);
  return zero_padding(proj(out), mask);
}

GPSA1DImpl::GPSA1DImpl(const SequenceAttentionOptions& o) : options(o) { reset(); }

void GPSA1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "GPSA1D: dim ", C, " is not divisible by num_heads ", H);
  gating_param = register_parameter("gating_param", torch::ones({H}));
  qk = register_module("qk", nn::Linear(nn::LinearOptions(C, 2 * C).bias(options.qkv_bias())));
  v = register_module("v", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  pos_proj = register_module("pos_proj", nn::Linear(2, H));
  proj = register_module("proj", nn::Linear(C, C));
  // ConViT's local init in 1-D: head h prefers the offset (h - H/2) (a spread of local kernels), locality
  // strength sharpens it: logits = -ls * (delta - c)^2 = -ls*delta^2 + 2 ls c delta - const.
  torch::NoGradGuard ng;
  pos_proj->weight.zero_();
  pos_proj->bias.zero_();
  for (int64_t h = 0; h < H; ++h) {
    const double c = static_cast<double>(h - H / 2), ls = options.locality_strength();
    pos_proj->weight[h][0] = 2.0 * ls * c;
    pos_proj->weight[h][1] = -ls;
  }
}

at::Tensor GPSA1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  check_input(x, mask, options.dim(), "GPSA1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const auto t = qk(x).reshape({B, L, 2, H, d}).permute({2, 0, 3, 1, 4});
  const at::Tensor vv = v(x).reshape({B, L, H, d}).permute({0, 2, 1, 3});
  at::Tensor content = torch::matmul(t[0] * std::pow(static_cast<double>(d), -0.5), t[1].transpose(-2, -1));
  const at::Tensor pos_idx = torch::arange(L, x.options());
  const at::Tensor delta = pos_idx.view({1, L}) - pos_idx.view({L, 1});  // key - query
  at::Tensor pos = pos_proj(torch::stack({delta, delta * delta}, -1)).permute({2, 0, 1}).unsqueeze(0);  // [1, H, L, L]
  if (mask.defined()) {
    content = content.masked_fill(mask.view({B, 1, 1, L}), kNegInf);
    pos = pos.expand({B, -1, -1, -1}).masked_fill(mask.view({B, 1, 1, L}), kNegInf);
  }
  const at::Tensor gate = torch::sigmoid(gating_param).view({1, H, 1, 1});
  at::Tensor attn = (1.0 - gate) * safe_softmax(content) + gate * safe_softmax(pos);
  attn = attn / attn.sum(-1, true).clamp_min(1e-30);  // ConViT renormalises the mixture
  return zero_padding(proj(merge(torch::matmul(attn, vv), B, L, C)), mask);
}

}  // namespace attnzoo::modules
