// OutlookAttention1D: VOLO's outlook attention along a sequence, and its entry in the sequence attention registry.
#include <attnzoo/modules/volo.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

OutlookAttention1DImpl::OutlookAttention1DImpl(const OutlookAttention1DOptions& o) : options(o) { reset(); }

void OutlookAttention1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads(), k = options.kernel_size();
  TORCH_CHECK(H > 0 && C % H == 0, "OutlookAttention1D: dim ", C, " is not divisible by num_heads ", H);
  TORCH_CHECK(k > 0 && k % 2 == 1, "OutlookAttention1D: kernel_size must be odd, got ", k);
  v = register_module("v", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  attn = register_module("attn", nn::Linear(C, k * k * H));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor OutlookAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "OutlookAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads(), k = options.kernel_size();
  // The sequence as a 1 x L map: the 2-D unfold / fold with (1, k) windows.
  const auto window = F::UnfoldFuncOptions({1, k}).padding({0, k / 2});
  at::Tensor values = v(x);
  if (mask.defined()) values = values.masked_fill(mask.unsqueeze(-1), 0.0);  // padded tokens give no values
  const at::Tensor vw = F::unfold(values.transpose(1, 2).unsqueeze(2), window)
                            .reshape({B, H, C / H, k, L})
                            .permute({0, 1, 4, 3, 2});  // [B, H, L, k, d]
  at::Tensor a = attn(x).reshape({B, L, H, k, k}).permute({0, 2, 1, 3, 4});
  a = torch::softmax(a * std::pow(static_cast<double>(C / H), -0.5), -1);
  at::Tensor out = torch::matmul(a, vw);  // [B, H, L, k (output taps), d]
  if (mask.defined()) out = out.masked_fill(mask.view({B, 1, L, 1, 1}), 0.0);  // and no windows
  out = out.permute({0, 1, 4, 3, 2}).reshape({B, C * k, L});
  const at::Tensor folded = F::fold(out, F::FoldFuncOptions({1, L}, {1, k}).padding({0, k / 2}));
  return zero_padding(proj(folded.squeeze(2).transpose(1, 2)), mask);
}

void register_volo_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"volo", "OutlookAttention1D (VOLO): each token predicts the weights of its 3-token window, folded, O(L k^2)",
               [](const SequenceAttentionSpec& s) { return sequence_attention(OutlookAttention1D(s.dim, s.num_heads)); }});
}

}  // namespace attnzoo::modules
