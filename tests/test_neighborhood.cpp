// The neighborhood-attention kernels: index rules, equality with the naive gather reference (forward and
// gradients, float64 and float32), finite-difference gradients, causal 1-D, the small-map padding path
// and shape errors. Fixture parity of the modules and models lives in test_parity.cpp.
#include <attnzoo/modules/nat.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo::modules;

namespace {

// Independent statement of NATTEN's window rule (see modules/nat.h): start of the in-group window.
int64_t window_start(int64_t i, int64_t L, int64_t k, int64_t d) {
  const int64_t g = i % d, p = i / d, Lg = (L - g + d - 1) / d, r = k / 2;
  if (p < r) return 0;
  if (p + r >= Lg) return Lg - k;
  return p - r;
}

TEST(NeighborhoodIndex, WindowsStayInsideTheirDilationGroup) {
  for (int64_t L : {7, 9, 14, 23})
    for (int64_t k : {3, 5, 7})
      for (int64_t d : {1, 2, 3}) {
        if (L < k * d) continue;
        auto [nbr, pb] = na_axis_indices(L, k, d);
        for (int64_t i = 0; i < L; ++i) {
          const int64_t s = window_start(i, L, k, d);
          for (int64_t t = 0; t < k; ++t) {
            ASSERT_EQ(nbr[i][t].item<int64_t>(), (s + t) * d + i % d) << L << " " << k << " " << d << " " << i;
            ASSERT_EQ(pb[i][t].item<int64_t>(), (k - 1) + (s + t - i / d));
          }
        }
      }
}

struct Inputs {
  at::Tensor q, k, v, rpb;
};

Inputs random_inputs(int64_t H, int64_t W, std::array<int64_t, 2> kernel, at::ScalarType dt, bool with_rpb = true) {
  torch::manual_seed(3);
  const auto o = torch::TensorOptions().dtype(dt);
  Inputs in{torch::randn({2, 3, H, W, 5}, o), torch::randn({2, 3, H, W, 5}, o), torch::randn({2, 3, H, W, 5}, o), {}};
  if (with_rpb) in.rpb = torch::randn({3, 2 * kernel[0] - 1, 2 * kernel[1] - 1}, o);
  return in;
}

at::Tensor kernels(const Inputs& in, std::array<int64_t, 2> kernel, std::array<int64_t, 2> dil,
                   std::array<bool, 2> causal = {false, false}) {
  return na_av(na_qk(in.q, in.k, in.rpb, kernel, dil, causal).softmax(-1), in.v, kernel, dil, causal);
}

class NAKernelVsReference : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t, int64_t>> {};

TEST_P(NAKernelVsReference, ForwardAndGradientsMatch) {
  const auto [H, W, k, d] = GetParam();
  for (auto dt : {at::kDouble, at::kFloat}) {
    Inputs a = random_inputs(H, W, {k, k}, dt);
    Inputs b{a.q.clone(), a.k.clone(), a.v.clone(), a.rpb.clone()};
    for (auto* t : {&a.q, &a.k, &a.v, &a.rpb, &b.q, &b.k, &b.v, &b.rpb}) t->requires_grad_(true);
    const at::Tensor y1 = kernels(a, {k, k}, {d, d});
    const at::Tensor y2 = na_reference(b.q, b.k, b.v, b.rpb, {k, k}, {d, d});
    const double tol = dt == at::kDouble ? 1e-12 : 2e-5;
    EXPECT_LT((y1 - y2).abs().max().item<double>(), tol);
    const at::Tensor w = torch::randn_like(y1);
    (y1 * w).sum().backward();
    (y2 * w).sum().backward();
    EXPECT_LT((a.q.grad() - b.q.grad()).abs().max().item<double>(), tol * 10) << "dq";
    EXPECT_LT((a.k.grad() - b.k.grad()).abs().max().item<double>(), tol * 10) << "dk";
    EXPECT_LT((a.v.grad() - b.v.grad()).abs().max().item<double>(), tol * 10) << "dv";
    EXPECT_LT((a.rpb.grad() - b.rpb.grad()).abs().max().item<double>(), tol * 100) << "drpb";
  }
}

// The ATen path (what CUDA tensors use) equals the CPU kernels, forward and gradients.
TEST(NAKernel, AtenPathMatchesKernels) {
  Inputs a = random_inputs(9, 11, {3, 3}, at::kDouble);
  Inputs b{a.q.clone(), a.k.clone(), a.v.clone(), a.rpb.clone()};
  for (auto* t : {&a.q, &a.k, &a.v, &a.rpb, &b.q, &b.k, &b.v, &b.rpb}) t->requires_grad_(true);
  const at::Tensor y1 = kernels(a, {3, 3}, {2, 1});
  const at::Tensor y2 = na_av_aten(na_qk_aten(b.q, b.k, b.rpb, {3, 3}, {2, 1}).softmax(-1), b.v, {3, 3}, {2, 1});
  EXPECT_LT((y1 - y2).abs().max().item<double>(), 1e-12);
  y1.sum().backward();
  y2.sum().backward();
  for (auto [x, y] : {std::make_pair(a.q, b.q), std::make_pair(a.k, b.k), std::make_pair(a.v, b.v), std::make_pair(a.rpb, b.rpb)})
    EXPECT_LT((x.grad() - y.grad()).abs().max().item<double>(), 1e-10);
}

// The CUDA kernels (na_kernel.cu) against the ATen path on the same GPU: values and every gradient in float64,
// with rpb, dilation, and causal axes (no rpb). Runs where a GPU and a CUDA build are present.
TEST(NAKernel, CudaKernelsMatchTheAtenPath) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine: the CUDA kernels are not run";
  if (!na_has_cuda_kernels()) GTEST_SKIP() << "this build has no CUDA kernels (a CPU-only LibTorch)";
  struct Case {
    std::array<int64_t, 2> kernel, dilation;
    std::array<bool, 2> causal;
    bool rpb;
  };
  for (const Case& c : {Case{{3, 3}, {2, 1}, {false, false}, true}, Case{{7, 7}, {1, 1}, {false, false}, true},
                        Case{{5, 3}, {1, 2}, {true, false}, false}}) {
    Inputs cpu = random_inputs(11, 13, c.kernel, at::kDouble);
    auto on_gpu = [&] {
      Inputs g{cpu.q.cuda(), cpu.k.cuda(), cpu.v.cuda(), c.rpb ? cpu.rpb.cuda() : at::Tensor()};
      for (auto* t : {&g.q, &g.k, &g.v, &g.rpb})
        if (t->defined()) t->requires_grad_(true);
      return g;
    };
    Inputs a = on_gpu(), b = on_gpu();
    const at::Tensor y1 = na_av(na_qk(a.q, a.k, a.rpb, c.kernel, c.dilation, c.causal).softmax(-1), a.v, c.kernel, c.dilation, c.causal);
    const at::Tensor y2 =
        na_av_aten(na_qk_aten(b.q, b.k, b.rpb, c.kernel, c.dilation, c.causal).softmax(-1), b.v, c.kernel, c.dilation, c.causal);
    EXPECT_LT((y1 - y2).abs().max().item<double>(), 1e-12);
    const at::Tensor gy = torch::randn_like(y1);
    (y1 * gy).sum().backward();
    (y2 * gy).sum().backward();
    for (auto [x, y] : {std::make_pair(a.q, b.q), std::make_pair(a.k, b.k), std::make_pair(a.v, b.v), std::make_pair(a.rpb, b.rpb)})
      if (x.defined()) EXPECT_LT((x.grad() - y.grad()).abs().max().item<double>(), 1e-10);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, NAKernelVsReference,
                         ::testing::Values(std::make_tuple(7, 9, 3, 1), std::make_tuple(9, 11, 3, 2),
                                           std::make_tuple(14, 14, 7, 2), std::make_tuple(6, 15, 5, 1)));

// Central differences in float64 on a tiny problem: the analytic gradients of both autograd functions.
TEST(NAKernel, FiniteDifferenceGradients) {
  Inputs in = random_inputs(5, 6, {3, 3}, at::kDouble);
  for (auto* t : {&in.q, &in.k, &in.v, &in.rpb}) t->requires_grad_(true);
  const at::Tensor w = torch::randn({2, 3, 5, 6, 5}, torch::kDouble);
  auto loss = [&] { return (kernels(in, {3, 3}, {1, 2}) * w).sum(); };
  loss().backward();
  torch::NoGradGuard ng;
  for (auto* t : {&in.q, &in.k, &in.v, &in.rpb}) {
    auto flat = t->view({-1});
    const auto g = t->grad().view({-1});
    for (int64_t idx : {int64_t{0}, flat.numel() / 3, flat.numel() - 1}) {
      const double x0 = flat[idx].item<double>(), eps = 1e-6;
      flat[idx] = x0 + eps;
      const double up = loss().item<double>();
      flat[idx] = x0 - eps;
      const double down = loss().item<double>();
      flat[idx] = x0;
      EXPECT_NEAR(g[idx].item<double>(), (up - down) / (2 * eps), 1e-6);
    }
  }
}

TEST(NAKernel, Causal1DSeesOnlyThePast) {
  Inputs in = random_inputs(1, 12, {1, 4}, at::kDouble, /*with_rpb=*/false);
  const at::Tensor y = kernels(in, {1, 4}, {1, 2}, {false, true});
  EXPECT_LT((y - na_reference(in.q, in.k, in.v, {}, {1, 4}, {1, 2}, {false, true})).abs().max().item<double>(), 1e-12);
  // Changing the future (position 11) leaves earlier outputs alone.
  Inputs in2{in.q, in.k.clone(), in.v.clone(), {}};
  in2.k.select(3, 11).add_(5.0);
  in2.v.select(3, 11).add_(5.0);
  const at::Tensor y2 = kernels(in2, {1, 4}, {1, 2}, {false, true});
  EXPECT_LT((y.slice(3, 0, 11) - y2.slice(3, 0, 11)).abs().max().item<double>(), 1e-12);
  EXPECT_GT((y.select(3, 11) - y2.select(3, 11)).abs().max().item<double>(), 1e-3);
  // Query 0 sees only itself: its output is its own value.
  EXPECT_LT((y.select(3, 0) - in.v.select(3, 0)).abs().max().item<double>(), 1e-12);
}

TEST(NeighborhoodAttention2D, SmallMapsArePaddedLikeNatten014) {
  torch::manual_seed(0);
  NeighborhoodAttention2D na(NeighborhoodAttentionOptions(16, 2, 5).dilation(2));
  na->to(torch::kDouble);
  const at::Tensor x = torch::randn({1, 6, 7, 16}, torch::kDouble);  // 6x7 < 10x10 = kernel * dilation
  const at::Tensor y = na(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  // The same computation written out: pad to 10x10, attend, crop.
  const at::Tensor xp = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({0, 0, 0, 3, 0, 4}));
  const at::Tensor full = na(xp);
  EXPECT_LT((y - full.slice(1, 0, 6).slice(2, 0, 7)).abs().max().item<double>(), 1e-12);
}

TEST(NeighborhoodAttention2D, ClearErrors) {
  EXPECT_THROW(NeighborhoodAttention2D(NeighborhoodAttentionOptions(16, 3, 5)), c10::Error);  // 16 % 3
  EXPECT_THROW(NeighborhoodAttention2D(NeighborhoodAttentionOptions(16, 2, 4)), c10::Error);  // even kernel
  NeighborhoodAttention2D na(NeighborhoodAttentionOptions(16, 2, 3));
  try {
    na(torch::randn({1, 16, 8, 8}));  // NCHW instead of channels-last
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("channels-last"), std::string::npos) << e.what();
  }
  Inputs in = random_inputs(4, 4, {5, 5}, at::kFloat);
  try {
    na_qk(in.q, in.k, in.rpb, {5, 5}, {1, 1});  // map smaller than the kernel, unpadded op
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than kernel_size * dilation"), std::string::npos) << e.what();
  }
}

}  // namespace
