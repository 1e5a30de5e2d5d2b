// LKA1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/van.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

LKA1DImpl::LKA1DImpl(const LKA1DOptions& o) : options(o) { reset(); }

void LKA1DImpl::reset() {
  const int64_t dim = options.dim();
  conv0 = register_module("conv0", nn::Conv1d(nn::Conv1dOptions(dim, dim, 5).padding(2).groups(dim)));
  conv_spatial =
      register_module("conv_spatial", nn::Conv1d(nn::Conv1dOptions(dim, dim, 7).padding(9).dilation(3).groups(dim)));
  conv1 = register_module("conv1", nn::Conv1d(nn::Conv1dOptions(dim, dim, 1)));
}

at::Tensor LKA1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "LKA1D");
  // Padded tokens are zeroed before each depthwise conv, so they never leak into the valid ones.
  const at::Tensor xc = zero_padding(x, mask).transpose(1, 2);
  at::Tensor a = conv0(xc);
  if (mask.defined()) a = a.masked_fill(mask.unsqueeze(1), 0.0);
  a = conv1(conv_spatial(a));
  return zero_padding((xc * a).transpose(1, 2), mask);
}

void register_van_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"lka", "LKA1D (VAN): depthwise k5 -> dilated k7 -> 1x1 gate",
               [](const SequenceAttentionSpec& s) { return sequence_attention(LKA1D(LKA1DOptions(s.dim))); }});
}

}  // namespace attnzoo::modules
