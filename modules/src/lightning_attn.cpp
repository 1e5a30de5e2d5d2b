#include <attnzoo/modules/lightning_attn.h>

#include <attnzoo/modules/alibi.h>
#include <attnzoo/modules/module_registry.h>

#include <torch/torch.h>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

void check_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slopes) {
  TORCH_CHECK(q.dim() == 4 && k.sizes() == q.sizes() && v.dim() == 4 && v.size(0) == q.size(0) && v.size(1) == q.size(1) &&
                  v.size(2) == q.size(2),
              "lightning attention: expected q, k [B, h, n, d] and v [B, h, n, e], got ", q.sizes(), ", ", k.sizes(), ", ",
              v.sizes());
  if (slopes.defined())
    TORCH_CHECK(slopes.numel() == q.size(1), "lightning attention: ", q.size(1), " heads but ", slopes.numel(), " slopes");
}

/// Keys at or before each query (strictly before with `strict`), weighted exp(-s (i - j)), computed block by block:
/// within a block the masked product ((Q K^T) * D) V, across blocks a running state KV = sum_j exp(-s (end - j)) k_j
/// v_j^T that each block's queries read with their own decay exp(-s (i + 1)) (Lightning Attention-2).
at::Tensor causal_blocks(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slopes,
                         int64_t block, bool strict) {
  const int64_t B = q.size(0), h = q.size(1), n = q.size(2), d = q.size(3), e = v.size(3);
  const int64_t nb = (n + block - 1) / block, pad = nb * block - n;
  // Padding at the end only adds keys after every real query: they never reach a real output.
  auto blocks = [&](const at::Tensor& t) { return F::pad(t, F::PadFuncOptions({0, 0, 0, pad})).view({B, h, nb, block, t.size(3)}); };
  const at::Tensor qb = blocks(q), kb = blocks(k), vb = blocks(v);
  const at::Tensor idx = torch::arange(block, q.options());
  const at::Tensor rel = idx.view({block, 1}) - idx.view({1, block});  // i - j
  const at::Tensor keep = strict ? rel.gt(0) : rel.ge(0);
  at::Tensor diag, q_decay, k_decay, block_decay;
  if (slopes.defined()) {
    const at::Tensor s = slopes.to(q.options()).view({h, 1, 1});
    diag = torch::exp(-s * rel).masked_fill(keep.logical_not(), 0.0).view({1, h, 1, block, block});
    q_decay = torch::exp(-s * (idx + 1).view({block, 1})).view({1, h, 1, block, 1});
    k_decay = torch::exp(-s * (block - 1 - idx).view({block, 1})).view({1, h, 1, block, 1});
    block_decay = torch::exp(-s * static_cast<double>(block)).view({1, h, 1, 1});
  } else {
    diag = keep.to(q.scalar_type()).view({1, 1, 1, block, block});
  }
  const at::Tensor intra = torch::matmul(torch::matmul(qb, kb.transpose(-2, -1)) * diag, vb);
  const at::Tensor contrib = torch::matmul((k_decay.defined() ? kb * k_decay : kb).transpose(-2, -1), vb);  // [B, h, nb, d, e]
  const at::Tensor q_read = q_decay.defined() ? qb * q_decay : qb;
  at::Tensor state = torch::zeros({B, h, d, e}, q.options());
  std::vector<at::Tensor> inter;
  inter.reserve(static_cast<size_t>(nb));
  for (int64_t t = 0; t < nb; ++t) {
    inter.push_back(torch::matmul(q_read.select(2, t), state));
    state = (block_decay.defined() ? state * block_decay : state) + contrib.select(2, t);
  }
  return (intra + torch::stack(inter, 2)).view({B, h, nb * block, e}).slice(2, 0, n);
}

}  // namespace

at::Tensor lightning_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slopes,
                               const LightningAttentionOptions& options) {
  check_qkv(q, k, v, slopes);
  TORCH_CHECK(options.block_size() > 0, "lightning attention: block_size must be positive, got ", options.block_size());
  const int64_t block = options.block_size();
  at::Tensor out = causal_blocks(q, k, v, slopes, block, /*strict=*/false);
  if (!options.causal()) {
    // The keys after each query: the same computation on the reversed sequence, its own position excluded.
    auto flip = [](const at::Tensor& t) { return t.flip({2}); };
    out = out + flip(causal_blocks(flip(q), flip(k), flip(v), slopes, block, /*strict=*/true));
  }
  return out;
}

at::Tensor linear_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const at::Tensor& slopes, bool causal) {
  check_qkv(q, k, v, slopes);
  const int64_t n = q.size(2);
  const at::Tensor idx = torch::arange(n, q.options());
  const at::Tensor rel = idx.view({n, 1}) - idx.view({1, n});
  at::Tensor mask;
  if (slopes.defined()) {
    const at::Tensor s = slopes.to(q.options()).view({-1, 1, 1});
    mask = torch::exp(-s * (causal ? rel : rel.abs()));
    if (causal) mask = mask.masked_fill(rel.lt(0), 0.0);
  } else {
    mask = causal ? rel.ge(0).to(q.scalar_type()) : torch::ones({n, n}, q.options());
  }
  return torch::matmul(torch::matmul(q, k.transpose(-2, -1)) * mask, v);
}

// ---------------------------------------------------------------------------------------------------------------
// TnlAttention

TnlAttentionImpl::TnlAttentionImpl(const TnlAttentionOptions& o) : options(o) { reset(); }

void TnlAttentionImpl::reset() {
  const int64_t C = options.embed_dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "TnlAttention: embed_dim ", C, " is not divisible by num_heads ", H);
  TORCH_CHECK(options.num_layers() >= 1 && options.layer_idx() >= 0 && options.layer_idx() < options.num_layers(),
              "TnlAttention: layer_idx ", options.layer_idx(), " outside num_layers ", options.num_layers());
  const bool bias = options.bias();
  q_proj = register_module("q_proj", nn::Linear(nn::LinearOptions(C, C).bias(bias)));
  k_proj = register_module("k_proj", nn::Linear(nn::LinearOptions(C, C).bias(bias)));
  v_proj = register_module("v_proj", nn::Linear(nn::LinearOptions(C, C).bias(bias)));
  o_proj = register_module("o_proj", nn::Linear(nn::LinearOptions(C, C).bias(bias)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  output_gate = register_module("output_gate", nn::Sequential(nn::Linear(nn::LinearOptions(C, C / H).bias(bias)),
                                                              nn::Linear(nn::LinearOptions(C / H, C).bias(bias))));
  // Deeper layers decay less: the slopes scaled by 1 - layer_idx / (num_layers - 1) + 1e-5 (one layer: as layer 0,
  // where the official expression divides by zero).
  const double depth = options.num_layers() > 1
                           ? 1.0 - static_cast<double>(options.layer_idx()) / static_cast<double>(options.num_layers() - 1) + 1e-5
                           : 1.0 + 1e-5;
  slopes_ = alibi_slopes(H);
  for (double& s : slopes_) s *= depth;
}

at::Tensor TnlAttentionImpl::slope_rate(const at::TensorOptions& to) const {
  return torch::tensor(slopes_, torch::TensorOptions().dtype(at::kDouble)).to(to);
}

at::Tensor TnlAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const int64_t C = options.embed_dim(), H = options.num_heads();
  TORCH_CHECK(x.dim() == 3 && x.size(2) == C, "TnlAttention: expected [B, n, ", C, "], got ", x.sizes());
  const int64_t B = x.size(0), n = x.size(1);
  if (mask.defined())
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == n && mask.scalar_type() == at::kBool,
                "TnlAttention: key padding mask must be bool [", B, ", ", n, "], got ", mask.sizes());
  auto heads = [&](const at::Tensor& t) { return torch::silu(t).view({B, n, H, C / H}).permute({0, 2, 1, 3}); };
  at::Tensor q = heads(q_proj(x)), k = heads(k_proj(x)), v = heads(v_proj(x));
  if (mask.defined()) {
    const at::Tensor pad = mask.view({B, 1, n, 1});
    k = k.masked_fill(pad, 0.0);
    v = v.masked_fill(pad, 0.0);
  }
  const at::Tensor o = lightning_attention(q, k, v, slope_rate(x.options()),
                                           LightningAttentionOptions().block_size(options.block_size()).causal(options.causal()));
  at::Tensor y = o_proj(norm(o.permute({0, 2, 1, 3}).reshape({B, n, C})) * torch::sigmoid(output_gate->forward(x)));
  return mask.defined() ? y.masked_fill(mask.unsqueeze(-1), 0.0) : y;
}

at::Tensor SimpleRMSNormImpl::forward(const at::Tensor& x) {
  const at::Tensor xf = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  return (xf * torch::rsqrt(xf.pow(2).mean(-1, true) + options.eps())).to(x.scalar_type());
}

void register_lightning_attn_modules(ModuleEntries& e) {
  e.push_back(module_entry<TnlAttention>(
      "lightning_attn", "TnlAttention", "attnzoo::modules::TnlAttention",
      "decayed linear attention (Lightning Attention-2, blockwise; causal or bidirectional) with output gate; "
      "forward(x [B, n, C], key padding mask)",
      TnlAttentionOptions(0, 0), MaskedForward{}));
  e.push_back(module_entry<SimpleRMSNorm>("lightning_attn", "SimpleRMSNorm", "attnzoo::modules::SimpleRMSNorm",
                                          "x / sqrt(mean(x^2) + eps), no parameters", SimpleRMSNormOptions(0)));
}

}  // namespace attnzoo::modules
