// The depthwise-conv kernels (modules/depthwise.h) against their reference (ATen's conv2d): forward and
// every gradient, NCHW and channels-last, odd/even/dilated kernels, maps smaller than the kernel, several
// threads; and the nn::Conv2d overload's fallback for convs that are not depthwise.
#include <attnzoo/modules/depthwise.h>

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using attnzoo::modules::depthwise_conv2d;
using attnzoo::modules::depthwise_conv2d_reference;

struct Case {
  int64_t B, C, H, W, KH, KW, ph, pw, dh, dw;
  bool bias, channels_last;
};

struct Grads {
  at::Tensor y, gx, gw, gb;
};

Grads run(const Case& c, bool kernel, at::ScalarType dtype) {
  torch::manual_seed(7);
  auto opts = torch::TensorOptions().dtype(dtype);
  at::Tensor x = torch::randn({c.B, c.C, c.H, c.W}, opts);
  if (c.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor w = torch::randn({c.C, 1, c.KH, c.KW}, opts), b = torch::randn({c.C}, opts);
  x.requires_grad_(true);
  w.requires_grad_(true);
  b.requires_grad_(true);
  const at::Tensor bias = c.bias ? b : at::Tensor();
  at::Tensor y = kernel ? attnzoo::modules::depthwise_conv2d_kernel(x, w, bias, {c.ph, c.pw}, {c.dh, c.dw})
                        : at::conv2d(x, w, bias, {1, 1}, {c.ph, c.pw}, {c.dh, c.dw}, c.C);
  const at::Tensor gy = torch::randn_like(y);
  (y * gy).sum().backward();
  return {y.detach(), x.grad(), w.grad(), c.bias ? b.grad() : at::Tensor()};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double err = (a - b).abs().max().item<double>();
  EXPECT_LE(err, tol * (1 + b.abs().max().item<double>())) << what;
}

const std::vector<Case> kCases = {
    {2, 3, 9, 11, 3, 3, 1, 1, 1, 1, true, false},    // the DWConv of Mlps
    {2, 4, 14, 14, 5, 5, 2, 2, 1, 1, true, false},   // LKA conv0 / BiFormer LePE
    {2, 4, 14, 14, 7, 7, 9, 9, 3, 3, true, false},   // LKA conv_spatial (7x7, dilation 3)
    {2, 4, 2, 2, 7, 7, 9, 9, 3, 3, true, false},     // a map smaller than the dilated kernel: only the centre tap
    {1, 5, 7, 4, 7, 7, 9, 9, 3, 3, false, false},    // rectangular, no bias
    {2, 3, 8, 6, 4, 2, 1, 0, 1, 2, true, false},     // even kernel, asymmetric padding: output size changes
    {2, 16, 7, 7, 7, 7, 9, 9, 3, 3, true, false},    // NCHW small map: NHWC kernels on a copy, NCHW result
    {2, 6, 9, 11, 3, 3, 1, 1, 1, 1, true, true},     // channels-last (NHWC kernels)
    {2, 5, 7, 7, 7, 7, 9, 9, 3, 3, true, true},      // channels-last, dilated
    {3, 8, 5, 6, 5, 3, 2, 1, 1, 2, false, true},     // channels-last, mixed kernel/dilation, no bias
};

TEST(Depthwise, KernelsEqualTheReferenceInFloat64) {
  for (const auto& c : kCases) {
    const std::string what = "case C=" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) +
                             " k" + std::to_string(c.KH) + "x" + std::to_string(c.KW) + " d" + std::to_string(c.dh) +
                             (c.channels_last ? " NHWC" : " NCHW");
    const Grads k = run(c, true, at::kDouble), r = run(c, false, at::kDouble);
    expect_close(k.y, r.y, 1e-12, what + " y");
    expect_close(k.gx, r.gx, 1e-12, what + " grad x");
    expect_close(k.gw, r.gw, 1e-12, what + " grad w");
    if (c.bias) expect_close(k.gb, r.gb, 1e-12, what + " grad b");
    EXPECT_EQ(k.y.is_contiguous(at::MemoryFormat::ChannelsLast) && !k.y.is_contiguous(), c.channels_last) << what;
  }
}

TEST(Depthwise, KernelsEqualTheReferenceInFloat32WithTwoThreads) {
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  for (const auto& c : kCases) {
    Case big = c;
    big.B = 4, big.C = 16;  // enough planes / rows for both threads
    const Grads k = run(big, true, at::kFloat), r = run(big, false, at::kFloat);
    expect_close(k.y, r.y, 1e-5, "float y");
    expect_close(k.gx, r.gx, 1e-5, "float grad x");
    expect_close(k.gw, r.gw, 1e-4, "float grad w");
  }
  at::set_num_threads(saved);
}

TEST(Depthwise, ResultDoesNotDependOnTheThreadCount) {
  Case c{4, 16, 12, 12, 7, 7, 9, 9, 3, 3, true, true};
  const int saved = at::get_num_threads();
  at::set_num_threads(1);
  const Grads one = run(c, true, at::kFloat);
  at::set_num_threads(2);
  const Grads two = run(c, true, at::kFloat);
  at::set_num_threads(saved);
  EXPECT_TRUE(one.y.equal(two.y));
  EXPECT_TRUE(one.gx.equal(two.gx));
  EXPECT_TRUE(one.gw.equal(two.gw));
}

TEST(Depthwise, GradcheckInFloat64) {
  auto opts = torch::TensorOptions().dtype(at::kDouble).requires_grad(true);
  torch::manual_seed(3);
  for (bool cl : {false, true}) {
    // Leaves are contiguous (so that they can be perturbed in place); f converts x to channels-last.
    at::Tensor x = torch::randn({2, 3, 5, 6}, opts), w = torch::randn({3, 1, 3, 3}, opts), b = torch::randn({3}, opts);
    auto f = [&] {
      const at::Tensor xx = cl ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
      return attnzoo::modules::depthwise_conv2d_kernel(xx, w, b, {2, 2}, {2, 2}).pow(2).sum();
    };
    const double eps = 1e-6;
    const auto g = torch::autograd::grad({f()}, {x, w, b});
    torch::NoGradGuard ng;
    for (auto [t, gt] : {std::pair{x, g[0]}, std::pair{w, g[1]}, std::pair{b, g[2]}}) {
      auto flat = t.view(-1);
      for (int64_t i = 0; i < flat.numel(); i += 5) {
        const double v = flat[i].item<double>();
        flat[i] = v + eps;
        const double up = f().item<double>();
        flat[i] = v - eps;
        const double dn = f().item<double>();
        flat[i] = v;
        EXPECT_NEAR(gt.reshape(-1)[i].item<double>(), (up - dn) / (2 * eps), 1e-5) << (cl ? "NHWC" : "NCHW");
      }
    }
  }
}

TEST(Depthwise, ReferenceDropsOnlyPaddingTaps) {
  // The reference itself (tap-skipping conv2d) against the untouched conv2d.
  torch::manual_seed(1);
  auto x = torch::randn({2, 4, 3, 3}, at::kDouble), w = torch::randn({4, 1, 7, 7}, at::kDouble);
  auto b = torch::randn({4}, at::kDouble);
  expect_close(depthwise_conv2d_reference(x, w, b, {9, 9}, {3, 3}), at::conv2d(x, w, b, {1, 1}, {9, 9}, {3, 3}, 4),
               1e-13, "tap-skipping reference");
}

TEST(Depthwise, ModuleOverloadFallsBackForConvsThatAreNotDepthwise) {
  torch::manual_seed(2);
  torch::nn::Conv2d dw(torch::nn::Conv2dOptions(4, 4, 3).padding(1).groups(4));
  torch::nn::Conv2d strided(torch::nn::Conv2dOptions(4, 4, 3).padding(1).groups(4).stride(2));
  torch::nn::Conv2d dense(torch::nn::Conv2dOptions(4, 8, 3).padding(1));
  auto x = torch::randn({2, 4, 8, 8});
  torch::NoGradGuard ng;
  expect_close(depthwise_conv2d(x, *dw), dw(x), 1e-5, "depthwise module");
  EXPECT_TRUE(depthwise_conv2d(x, *strided).equal(strided(x)));
  EXPECT_TRUE(depthwise_conv2d(x, *dense).equal(dense(x)));
}

}  // namespace
