// Model-level fast paths against the reference path they replace (attnzoo --reference-kernels): VAN's
// channels-last layout, the layout-independent GELU, the allocator settings. Values and gradients must
// agree to float64 rounding; the fast path must really take its layout.
#include <attnzoo/core/allocator.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/modules/activation.h>
#include <attnzoo/modules/fast_kernels.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using attnzoo::modules::set_fast_kernels;

// Restores the process-wide switch even when an assertion fails.
struct FastKernels {
  explicit FastKernels(bool on) { set_fast_kernels(on); }
  ~FastKernels() { set_fast_kernels(true); }
};

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / (1 + b.abs().max())).item<double>();
}

struct Outputs {
  at::Tensor out, features, grad_x;
  std::vector<at::Tensor> grads;
};

Outputs run_van(bool fast) {
  FastKernels mode(fast);
  torch::manual_seed(3);
  auto model = attnzoo::models::create_model(
      "van_b0", {{"embed_dims", {8, 16, 24, 32}}, {"depths", {1, 2, 1, 1}}, {"in_chans", 1}, {"num_classes", 5}});
  model->to(at::kDouble);
  model->train();
  torch::manual_seed(4);
  at::Tensor x = torch::randn({3, 1, 28, 28}, at::kDouble).requires_grad_(true);
  Outputs r;
  r.features = model->forward_features(x);
  r.out = model->forward_head(r.features);
  (r.out * torch::linspace(-1, 1, r.out.numel(), at::kDouble).view_as(r.out)).sum().backward();
  r.grad_x = x.grad();
  for (const auto& p : model->parameters()) r.grads.push_back(p.grad().clone());
  return r;
}

TEST(FastPaths, VanChannelsLastEqualsReferenceInFloat64) {
  const Outputs fast = run_van(true), ref = run_van(false);
  EXPECT_TRUE(fast.features.is_contiguous(at::MemoryFormat::ChannelsLast)) << "the fast path runs channels-last";
  EXPECT_TRUE(ref.features.is_contiguous()) << "the reference path stays NCHW";
  EXPECT_LE(max_rel(fast.out, ref.out), 1e-12);
  EXPECT_LE(max_rel(fast.grad_x, ref.grad_x), 1e-12);
  ASSERT_EQ(fast.grads.size(), ref.grads.size());
  for (size_t i = 0; i < fast.grads.size(); ++i) EXPECT_LE(max_rel(fast.grads[i], ref.grads[i]), 1e-11) << "parameter " << i;
}

TEST(FastPaths, GeluKeepsChannelsLastAndEqualsAtenGelu) {
  torch::manual_seed(5);
  const at::Tensor x = torch::randn({2, 6, 5, 7}, at::kDouble);
  const at::Tensor cl = x.contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  const at::Tensor y = attnzoo::modules::gelu(cl);
  EXPECT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(at::equal(y, at::gelu(x)));
  y.sum().backward();
  const at::Tensor xr = x.clone().requires_grad_(true);
  at::gelu(xr).sum().backward();
  EXPECT_TRUE(at::allclose(cl.grad(), xr.grad(), 0, 1e-15));
  // Plain NCHW and other ranks go straight to ATen.
  EXPECT_TRUE(at::equal(attnzoo::modules::gelu(x), at::gelu(x)));
  EXPECT_FALSE(attnzoo::modules::nhwc_view(torch::randn({4, 3})).defined());
}

TEST(FastPaths, AllocatorTuningIsAcceptedByGlibc) {
#if defined(__GLIBC__)
  EXPECT_TRUE(attnzoo::tune_allocator_for_tensors());
#else
  EXPECT_FALSE(attnzoo::tune_allocator_for_tensors());
#endif
}

}  // namespace
