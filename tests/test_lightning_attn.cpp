// Lightning attention: the blockwise op (Lightning Attention-2's intra/inter split) equals the naive O(n^2)
// masked form, forward and backward, causal and bidirectional, with and without decay, for any block size; the
// per-layer decay rates have their known values.
#include <attnzoo/modules/alibi.h>
#include <attnzoo/modules/lightning_attn.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace attnzoo::modules;

namespace {

double rel_err(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

}  // namespace

TEST(LightningAttention, BlockwiseEqualsTheNaiveMaskedForm) {
  torch::manual_seed(0);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  for (const int64_t n : {1, 13, 64, 100}) {
    const at::Tensor q = torch::randn({2, 3, n, 8}, f64), k = torch::randn({2, 3, n, 8}, f64);
    const at::Tensor v = torch::randn({2, 3, n, 5}, f64);
    for (const bool decay : {true, false}) {
      const at::Tensor s = decay ? torch::tensor({0.5, 0.1, 0.01}, f64) : at::Tensor();
      for (const bool causal : {true, false}) {
        const at::Tensor want = linear_attention_reference(q, k, v, s, causal);
        for (const int64_t block : {1, 7, 16, 128}) {
          const at::Tensor got = lightning_attention(q, k, v, s, LightningAttentionOptions().block_size(block).causal(causal));
          EXPECT_LT(rel_err(got, want), 1e-13) << "n " << n << " block " << block << " decay " << decay << " causal " << causal;
        }
      }
    }
  }
}

TEST(LightningAttention, GradientsEqualTheNaiveForm) {
  torch::manual_seed(1);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const at::Tensor s = torch::tensor({0.3, 0.05}, f64);
  for (const bool causal : {true, false}) {
    std::vector<at::Tensor> grads[2];
    for (int path = 0; path < 2; ++path) {
      torch::manual_seed(2);
      at::Tensor q = torch::randn({1, 2, 37, 4}, f64).requires_grad_(), k = torch::randn({1, 2, 37, 4}, f64).requires_grad_();
      at::Tensor v = torch::randn({1, 2, 37, 4}, f64).requires_grad_();
      const at::Tensor o = path == 0 ? linear_attention_reference(q, k, v, s, causal)
                                     : lightning_attention(q, k, v, s, LightningAttentionOptions().block_size(8).causal(causal));
      (o * torch::cos(o)).sum().backward();
      grads[path] = {q.grad(), k.grad(), v.grad()};
    }
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel_err(grads[1][i], grads[0][i]), 1e-12) << "causal " << causal << " grad " << i;
  }
}

TEST(LightningAttention, CausalOutputsIgnoreLaterTokensAndFarKeysDecay) {
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  // One key at position 0 with value 1, queries all ones: o_i = exp(-s i) (q . k = d).
  const int64_t n = 20, d = 4;
  const at::Tensor q = torch::ones({1, 1, n, d}, f64);
  at::Tensor k = torch::zeros({1, 1, n, d}, f64), v = torch::zeros({1, 1, n, 1}, f64);
  k[0][0][0].fill_(1.0);
  v[0][0][0].fill_(1.0);
  const at::Tensor o = lightning_attention(q, k, v, torch::tensor({0.25}, f64), LightningAttentionOptions().block_size(6));
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(o[0][0][i][0].item<double>(), d * std::exp(-0.25 * i), 1e-14);
}

TEST(LightningAttention, TnlDecayRatesFollowTheLayerDepth) {
  TnlAttention first(TnlAttentionOptions(32, 8).layer_idx(0).num_layers(12));
  TnlAttention last(TnlAttentionOptions(32, 8).layer_idx(11).num_layers(12));
  const at::Tensor a = first->slope_rate(torch::kDouble), b = last->slope_rate(torch::kDouble);
  for (int64_t h = 0; h < 8; ++h) {
    EXPECT_DOUBLE_EQ(a[h].item<double>(), std::pow(2.0, -(h + 1)) * (1.0 + 1e-5));
    EXPECT_DOUBLE_EQ(b[h].item<double>(), std::pow(2.0, -(h + 1)) * 1e-5);  // the last layer barely decays
  }
  EXPECT_EQ(alibi_slopes(6).size(), 6u);
  EXPECT_THROW(TnlAttention(TnlAttentionOptions(32, 8).layer_idx(12).num_layers(12)), c10::Error);
}

TEST(LightningAttention, SimpleRMSNormHasUnitRootMeanSquare) {
  SimpleRMSNorm norm(16);
  const at::Tensor x = torch::randn({3, 5, 16}, torch::kDouble) * 7.0;
  const at::Tensor y = norm(x);
  EXPECT_EQ(y.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(y.pow(2).mean(-1), torch::ones({3, 5}, torch::kDouble), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(y, x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6), 1e-15, 1e-15));
}
