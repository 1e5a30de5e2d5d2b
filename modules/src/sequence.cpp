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
  at::Tensor pad = mask.defined() ? mask : torch::zeros({B, L}, torch::TensorOptions().dtype(torch::kBool).device(x.device()));
  pad = F::pad(pad.to(torch::kFloat), F::PadFuncOptions({hs, Lp - L + hs}).value(1.0)).to(torch::kBool);  // [B, Lp + 2hs]
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

}  // namespace attnzoo::modules
