#pragma once
// Channel gates of timm's ResNet-family blocks: squeeze-and-excitation (Hu et al. 2018) and efficient
// channel attention (Wang et al. 2020). NCHW in and out.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/byobnet.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// x * sigmoid(fc2(act(fc1(mean_hw(x))))); keys fc1, fc2 (1x1 convs).
class SEModuleImpl : public torch::nn::Cloneable<SEModuleImpl> {
 public:
  explicit SEModuleImpl(const SEModuleOptions& options);
  explicit SEModuleImpl(int64_t channels) : SEModuleImpl(SEModuleOptions(channels)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SEModule", options); }
  at::Tensor forward(const at::Tensor& x);

  SEModuleOptions options;
  torch::nn::Conv2d fc1{nullptr};
  torch::nn::Conv2d fc2{nullptr};
};
TORCH_MODULE(SEModule);

/// x * sigmoid(conv1d_over_channels(mean_hw(x))); key conv (Conv1d 1 -> 1, no bias).
class EcaModuleImpl : public torch::nn::Cloneable<EcaModuleImpl> {
 public:
  explicit EcaModuleImpl(const EcaModuleOptions& options);
  explicit EcaModuleImpl(int64_t channels) : EcaModuleImpl(EcaModuleOptions(channels)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::EcaModule", options); }
  at::Tensor forward(const at::Tensor& x);
  int64_t kernel_size() const;

  EcaModuleOptions options;
  torch::nn::Conv1d conv{nullptr};
};
TORCH_MODULE(EcaModule);

}  // namespace attnzoo::modules
