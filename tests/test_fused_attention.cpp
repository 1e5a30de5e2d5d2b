// The softmax-attention kernel (modules/fused_attention.h) against its reference (ATen's matmul / softmax /
// matmul): values and every gradient (q, k, v, bias) in float64 and float32, bias broadcast in every way the
// modules use it (per head, per window, a key-padding row), odd sizes, several threads; gradcheck in float64.
#include <attnzoo/modules/fused_attention.h>

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using attnzoo::modules::softmax_attention_kernel;
using attnzoo::modules::softmax_attention_reference;
using attnzoo::modules::softmax_attention_sdpa;

enum class Path { reference, kernel, sdpa };

struct Case {
  std::vector<int64_t> lead;
  int64_t N, M, d, dv;
  std::vector<int64_t> bias;  // empty: no bias
  double scale;
};

struct Result {
  at::Tensor out, gq, gk, gv, gb;
};

Result run(const Case& c, Path path, at::ScalarType dtype) {
  torch::manual_seed(11);
  auto shape = [&](int64_t a, int64_t b) {
    auto s = c.lead;
    s.push_back(a);
    s.push_back(b);
    return s;
  };
  auto opts = torch::TensorOptions().dtype(dtype);
  at::Tensor q = torch::randn(shape(c.N, c.d), opts).requires_grad_(true);
  at::Tensor k = torch::randn(shape(c.M, c.d), opts).requires_grad_(true);
  at::Tensor v = torch::randn(shape(c.M, c.dv), opts).requires_grad_(true);
  // LibTorch's fused SDPA gives no gradient for the mask on CPU: its bias is a constant there.
  at::Tensor b = c.bias.empty() ? at::Tensor() : torch::randn(c.bias, opts).requires_grad_(path != Path::sdpa);
  at::Tensor out = path == Path::kernel ? softmax_attention_kernel(q, k, v, c.scale, b)
                   : path == Path::sdpa ? softmax_attention_sdpa(q, k, v, c.scale, b)
                                        : softmax_attention_reference(q, k, v, c.scale, b);
  (out * torch::randn_like(out)).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad(), b.defined() && b.requires_grad() ? b.grad() : at::Tensor()};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_LE((a - b).abs().max().item<double>(), tol * (1 + b.abs().max().item<double>())) << what;
}

const std::vector<Case> kCases = {
    {{6, 3}, 49, 49, 32, 32, {}, 0.17677669529663687},          // DaViT / Swin window attention
    {{2, 4}, 49, 49, 16, 16, {4, 49, 49}, 0.25},                // + relative position bias per head
    {{2, 3, 4}, 16, 16, 8, 8, {3, 1, 16, 16}, 0.3},             // + shift mask per window (broadcast over heads)
    {{3, 2}, 7, 50, 12, 20, {3, 1, 1, 50}, 0.5},                // key-padding row, M != N, dv != d
    {{5}, 197, 197, 48, 48, {}, 0.144},                          // ConViT / DeiT global attention
    {{2, 2}, 1, 9, 4, 4, {}, 1.0},                               // a single query
    {{2}, 3, 5, 64, 40, {5}, 0.125},                             // widths larger than the token counts
};

void expect_equals_reference(Path path, at::ScalarType dtype, double tol_out, double tol_grad) {
  for (const auto& c : kCases) {
    const Result a = run(c, path, dtype), r = run(c, Path::reference, dtype);
    expect_close(a.out, r.out, tol_out, "out");
    expect_close(a.gq, r.gq, tol_grad, "grad q");
    expect_close(a.gk, r.gk, tol_grad, "grad k");
    expect_close(a.gv, r.gv, tol_grad, "grad v");
    if (a.gb.defined()) expect_close(a.gb, r.gb, tol_grad, "grad bias");
  }
}

TEST(FusedAttention, KernelEqualsReferenceInFloat64) { expect_equals_reference(Path::kernel, at::kDouble, 1e-13, 1e-12); }

// LibTorch's fused scaled_dot_product_attention (flash attention on CPU in 2.2+): float64 rounding too.
TEST(FusedAttention, SdpaEqualsReferenceInFloat64) { expect_equals_reference(Path::sdpa, at::kDouble, 1e-13, 1e-12); }

TEST(FusedAttention, KernelEqualsReferenceInFloat32WithTwoThreads) {
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  expect_equals_reference(Path::kernel, at::kFloat, 2e-5, 5e-5);
  at::set_num_threads(threads);
}

TEST(FusedAttention, GradcheckInFloat64) {
  torch::manual_seed(12);
  auto o = torch::TensorOptions().dtype(at::kDouble).requires_grad(true);
  at::Tensor q = torch::randn({2, 5, 3}, o), k = torch::randn({2, 6, 3}, o), v = torch::randn({2, 6, 4}, o);
  at::Tensor b = torch::randn({1, 5, 6}, o);
  auto f = [&](const at::Tensor& qq, const at::Tensor& kk, const at::Tensor& vv, const at::Tensor& bb) {
    return softmax_attention_kernel(qq, kk, vv, 0.7, bb);
  };
  const double eps = 1e-6;
  at::Tensor gy = torch::randn({2, 5, 4}, at::kDouble);
  (f(q, k, v, b) * gy).sum().backward();
  // Central differences on a few entries of every input.
  for (at::Tensor* t : {&q, &k, &v, &b}) {
    for (int64_t i = 0; i < std::min<int64_t>(t->numel(), 7); ++i) {
      torch::NoGradGuard ng;
      at::Tensor flat = t->view({-1});
      const double x0 = flat[i].item<double>();
      flat[i] = x0 + eps;
      const double up = (f(q, k, v, b) * gy).sum().item<double>();
      flat[i] = x0 - eps;
      const double down = (f(q, k, v, b) * gy).sum().item<double>();
      flat[i] = x0;
      EXPECT_NEAR(t->grad().view({-1})[i].item<double>(), (up - down) / (2 * eps), 1e-7);
    }
  }
}

// The heads of a fused qkv projection, [B, N, 3, H, d] permuted to [3, B, H, N, d]: strided views (the kernel
// copies them; reading them in place was measured no faster); values and gradients, which flow back into the
// one qkv tensor, equal the reference's.
TEST(FusedAttention, StridedViewsOfAFusedProjection) {
  for (const auto dtype : {at::kDouble, at::kFloat}) {
    torch::manual_seed(14);
    const at::Tensor base = torch::randn({2, 13, 3, 4, 8}, dtype);
    const at::Tensor bias = torch::randn({4, 13, 13}, dtype);
    const at::Tensor gy = torch::randn({2, 4, 13, 8}, dtype);
    auto run_with = [&](bool kernel) {
      at::Tensor qkv = base.clone().requires_grad_(true);
      const at::Tensor h = qkv.permute({2, 0, 3, 1, 4});
      const at::Tensor y = kernel ? softmax_attention_kernel(h[0], h[1], h[2], 0.35, bias)
                                  : softmax_attention_reference(h[0], h[1], h[2], 0.35, bias);
      (y * gy).sum().backward();
      return std::make_pair(y.detach(), qkv.grad());
    };
    const auto a = run_with(true), r = run_with(false);
    const double tol = dtype == at::kDouble ? 1e-12 : 5e-5;
    expect_close(a.first, r.first, tol, "strided out");
    expect_close(a.second, r.second, tol, "strided grad qkv");
  }
}

TEST(FusedAttention, InferenceNeedsNoSoftmaxBuffer) {
  torch::manual_seed(13);
  at::Tensor q = torch::randn({4, 10, 8}), k = torch::randn({4, 12, 8}), v = torch::randn({4, 12, 8});
  c10::InferenceMode guard;
  const at::Tensor a = softmax_attention_kernel(q, k, v, 0.35), r = softmax_attention_reference(q, k, v, 0.35);
  expect_close(a, r, 2e-6, "inference");
}

TEST(FusedAttention, UnsupportedInputsAreRefusedByTheKernelAndServedByTheDispatch) {
  at::Tensor q = torch::randn({2, 3, 4}, at::kHalf), k = torch::randn({2, 3, 4}, at::kHalf);
  EXPECT_THROW(softmax_attention_kernel(q, k, k, 1.0), c10::Error);
  at::Tensor q2 = torch::randn({2, 3, 4}), k2 = torch::randn({1, 3, 4});  // broadcast leading dims
  EXPECT_THROW(softmax_attention_kernel(q2, k2, k2, 1.0), c10::Error);
  const at::Tensor viaDispatch = attnzoo::modules::softmax_attention(q2, k2, k2, 0.5);
  expect_close(viaDispatch, softmax_attention_reference(q2, k2, k2, 0.5), 1e-6, "fallback");
}

}  // namespace
