// SGConv beyond the parity cases: the FFT convolution equals the direct sum (causal and bidirectional), the kernel
// norm is recorded once, and the kernel's scales have the lengths and weights of the paper's construction.
#include <attnzoo/modules/sgconv.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo::modules;

namespace {

/// y[b, c, h, t] = sum_s k[c, h, t - s] u[b, h, s] (+ the anti-causal half of a bidirectional kernel of length 2L).
at::Tensor direct_convolution(const at::Tensor& u, const at::Tensor& k, int64_t C) {
  const int64_t B = u.size(0), H = u.size(1), L = u.size(2);
  at::Tensor y = torch::zeros({B, C, H, L}, u.options());
  for (int64_t t = 0; t < L; ++t)
    for (int64_t s = 0; s < L; ++s) {
      const int64_t lag = t - s;
      const int64_t idx = lag >= 0 ? lag : k.size(-1) + lag;  // circular index into a 2L kernel
      if (lag < 0 && k.size(-1) == L) continue;                // causal kernel: no future taps
      y.select(3, t) += k.select(2, idx).unsqueeze(0) * u.select(2, s).unsqueeze(1);
    }
  return y;
}

}  // namespace

TEST(SGConv, FFTConvolutionEqualsTheDirectSum) {
  torch::manual_seed(0);
  for (const bool bidirectional : {false, true}) {
    GConv g(GConvOptions(3).l_max(32).kernel_dim(4).channels(2).bidirectional(bidirectional));
    g->to(torch::kDouble);
    const at::Tensor u = torch::randn({2, 3, 21}, torch::kDouble);
    const at::Tensor k = g->kernel(21);
    EXPECT_EQ(k.size(-1), bidirectional ? 42 : 21);
    const at::Tensor want = direct_convolution(u, k, 2) + u.unsqueeze(1) * g->D.view({1, 2, 3, 1});
    EXPECT_LT((g->convolve(u, k) - want.reshape({2, 6, 21})).abs().max().item<double>(), 1e-12) << bidirectional;
  }
}

TEST(SGConv, KernelNormIsRecordedOnceAndScalesDecay) {
  torch::manual_seed(1);
  GConv g(GConvOptions(2).l_max(64).kernel_dim(8).decay_min(2).decay_max(2));
  g->to(torch::kDouble);
  EXPECT_EQ(g->num_scales, 4);  // 1 + ceil(log2(64 / 8))
  EXPECT_FALSE(g->kernel_norm_initialized.item<bool>());
  const at::Tensor k100 = g->kernel(100);
  EXPECT_TRUE(g->kernel_norm_initialized.item<bool>());
  const at::Tensor recorded = g->kernel_norm.clone();
  // The composed kernel (8 + 8 + 16 + 32 = 64 taps) has unit norm per channel, then zero padding to 100.
  EXPECT_TRUE(torch::allclose(k100.narrow(-1, 0, 64).norm(2, {-1}), torch::ones({1, 2}, torch::kDouble)));
  EXPECT_EQ(k100.narrow(-1, 64, 36).abs().max().item<double>(), 0.0);
  g->kernel(10);
  EXPECT_TRUE(torch::equal(g->kernel_norm, recorded));
  // Scale 0 carries weight 2^3 over scale 3's 2^0: its taps are the sub-kernel times 8 / norm.
  const at::Tensor first = g->kernel_list[0].view({1, 2, 8}) * 8.0 / recorded;
  EXPECT_TRUE(torch::allclose(k100.narrow(-1, 0, 8), first));
}

TEST(SGConv, BadSettingsAreClearErrors) {
  EXPECT_THROW(GConv(GConvOptions(4)), c10::Error);  // l_max 1 < kernel_dim 64: no scales
  EXPECT_THROW(GConv(GConvOptions(4).l_max(128).mode("concat")), c10::Error);
  GConv g(GConvOptions(4).l_max(128));
  EXPECT_THROW(g(torch::randn({2, 5, 16})), c10::Error);  // 5 channels, d_model 4
}
