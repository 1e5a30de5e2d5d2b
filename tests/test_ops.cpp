// Our own ops: deformable convolution (values, gradients by finite differences, robustness) and
// HiLo's edge cases.
#include "test_util.h"

#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/modules/deform_conv.h>
#include <attnzoo/modules/litv2.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo;
using modules::deform_conv2d;

namespace {

TEST(DeformConv, ZeroOffsetsEqualAPlainConvolution) {
  torch::manual_seed(0);
  auto x = torch::randn({2, 4, 7, 6}, torch::kDouble);
  auto w = torch::randn({6, 2, 3, 3}, torch::kDouble);  // groups 2
  auto b = torch::randn({6}, torch::kDouble);
  const int64_t Ho = (7 + 2 - 2 * 2 - 1) / 2 + 1, Wo = (6 + 2 - 2 * 2 - 1) / 2 + 1;
  auto off = torch::zeros({2, 2 * 2 * 9, Ho, Wo}, torch::kDouble);  // 2 offset groups
  auto y = deform_conv2d(x, w, off, at::Tensor(), b, {2, 2}, {1, 1}, {2, 2}, 2);
  auto ref = torch::conv2d(x, w, b, {2, 2}, {1, 1}, {2, 2}, 2);
  ASSERT_EQ(y.sizes(), ref.sizes());
  EXPECT_LT(test::max_abs_diff(y, ref), 1e-12);
}

TEST(DeformConv, IntegerOffsetsShiftTheSamplesAndOutsideReadsZero) {
  auto x = torch::arange(16, torch::kDouble).view({1, 1, 4, 4});
  auto w = torch::ones({1, 1, 1, 1}, torch::kDouble);
  auto off = torch::zeros({1, 2, 4, 4}, torch::kDouble);
  off.select(1, 1).fill_(1.0);  // dx = +1: each output reads its right neighbour
  auto y = deform_conv2d(x, w, off, at::Tensor(), at::Tensor(), {1, 1}, {0, 0}, {1, 1});
  EXPECT_TRUE(y[0][0].narrow(1, 0, 3).equal(x[0][0].narrow(1, 1, 3)));
  EXPECT_TRUE(y[0][0].select(1, 3).equal(torch::zeros({4}, torch::kDouble)));  // x = 4 is outside
  // Half a pixel: bilinear mean of the two neighbours.
  off.select(1, 1).fill_(0.5);
  y = deform_conv2d(x, w, off, at::Tensor(), at::Tensor(), {1, 1}, {0, 0}, {1, 1});
  EXPECT_DOUBLE_EQ(y[0][0][1][1].item<double>(), 5.5);
  // A modulation mask scales each tap.
  auto mask = torch::full({1, 1, 4, 4}, 0.5, torch::kDouble);
  auto ym = deform_conv2d(x, w, off, mask, at::Tensor(), {1, 1}, {0, 0}, {1, 1});
  EXPECT_LT(test::max_abs_diff(ym, y * 0.5), 1e-12);
}

TEST(DeformConv, NonFiniteAndHugeOffsetsReadZeroWithoutCrashing) {
  auto x = torch::randn({1, 2, 5, 5}, torch::kDouble);
  auto w = torch::randn({3, 2, 2, 2}, torch::kDouble);
  auto off = torch::zeros({1, 8, 4, 4}, torch::kDouble);
  off[0][0][1][1] = std::nan("");
  off[0][3][2][2] = std::numeric_limits<double>::infinity();
  off[0][4][0][0] = 1e300;
  off[0][5][3][3] = -1e18;
  auto y = deform_conv2d(x, w, off, at::Tensor(), at::Tensor(), {1, 1}, {0, 0}, {1, 1});
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

// Central differences in float64 against autograd for every input.
TEST(DeformConv, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  auto x = torch::randn({1, 2, 5, 4}, torch::kDouble).requires_grad_();
  auto w = torch::randn({2, 2, 2, 2}, torch::kDouble).requires_grad_();
  auto b = torch::randn({2}, torch::kDouble).requires_grad_();
  // Offsets away from integers (the bilinear kernel is not differentiable at integer positions).
  auto off = (torch::rand({1, 8, 4, 3}, torch::kDouble) * 1.6 - 0.8 + 0.13).requires_grad_();
  auto mask = torch::rand({1, 4, 4, 3}, torch::kDouble).requires_grad_();
  auto f = [&] { return deform_conv2d(x, w, off, mask, b, {1, 1}, {0, 0}, {1, 1}).pow(2).sum(); };
  f().backward();
  const double eps = 1e-6;
  for (at::Tensor* t : {&x, &w, &b, &off, &mask}) {
    const auto analytic = t->grad().clone();
    auto flat = t->detach().view({-1});
    for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / 12)) {
      torch::NoGradGuard ng;
      const double v = flat[i].item<double>();
      flat[i] = v + eps;
      const double up = f().item<double>();
      flat[i] = v - eps;
      const double down = f().item<double>();
      flat[i] = v;
      EXPECT_NEAR(analytic.view({-1})[i].item<double>(), (up - down) / (2 * eps), 1e-5) << "element " << i;
    }
  }
}

TEST(HiLo, AlphaEdgeCasesAndWindowOne) {
  torch::NoGradGuard ng;
  auto keys = [](const modules::HiLo& m) {
    std::vector<std::string> k;
    for (const auto& item : checkpoint::state_dict(*m)) k.push_back(item.key());
    return k;
  };
  const auto x = torch::randn({2, 16, 32});
  modules::HiLo all_hi(modules::HiLoOptions(32).num_heads(4).alpha(0.0).window_size(2));
  EXPECT_EQ(all_hi->l_heads, 0);
  EXPECT_EQ(keys(all_hi), (std::vector<std::string>{"h_qkv.weight", "h_proj.weight", "h_proj.bias"}));  // qkv_bias off
  EXPECT_EQ(all_hi->forward(x, 4, 4).sizes(), x.sizes());
  modules::HiLo all_lo(modules::HiLoOptions(32).num_heads(4).alpha(1.0).window_size(2));
  EXPECT_EQ(all_lo->h_heads, 0);
  EXPECT_EQ(all_lo->forward(x, 4, 4).sizes(), x.sizes());
  modules::HiLo ws1(modules::HiLoOptions(32).num_heads(4).alpha(0.5).window_size(1));
  EXPECT_EQ(ws1->l_heads, 4);  // window 1: plain attention through the Lo-Fi path
  EXPECT_EQ(ws1->forward(x, 4, 4).sizes(), x.sizes());
  // The truncation rule: int(12 * 0.9) = 10 Lo-Fi heads.
  modules::HiLo h12(modules::HiLoOptions(48).num_heads(12).alpha(0.9));
  EXPECT_EQ(h12->l_heads, 10);
  EXPECT_EQ(h12->h_heads, 2);
}

}  // namespace
