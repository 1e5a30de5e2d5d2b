#pragma once
// MLP blocks shared by the model families.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/layers.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// Depthwise 3x3 conv wrapped in a module whose conv is called `dwconv` (official key `*.dwconv.dwconv.*`).
class DWConvImpl : public torch::nn::Cloneable<DWConvImpl> {
 public:
  explicit DWConvImpl(const DWConvOptions& options) : options(options) { reset(); }
  explicit DWConvImpl(int64_t dim) : DWConvImpl(DWConvOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);
  DWConvOptions options;
  torch::nn::Conv2d dwconv{nullptr};
};
TORCH_MODULE(DWConv);

class DWConvMlpImpl : public torch::nn::Cloneable<DWConvMlpImpl> {
 public:
  explicit DWConvMlpImpl(const DWConvMlpOptions& options);
  explicit DWConvMlpImpl(int64_t in_features) : DWConvMlpImpl(DWConvMlpOptions(in_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::DWConvMlp", options); }
  at::Tensor forward(const at::Tensor& x);

  DWConvMlpOptions options;
  torch::nn::Conv2d fc1{nullptr};
  DWConv dwconv{nullptr};
  torch::nn::Conv2d fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(DWConvMlp);

/// timm Mlp on tokens: fc1 -> GELU (exact) -> drop -> fc2 -> drop.
class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  explicit MlpImpl(const MlpOptions& options);
  explicit MlpImpl(int64_t in_features) : MlpImpl(MlpOptions(in_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::Mlp", options); }
  at::Tensor forward(const at::Tensor& x);

  MlpOptions options;
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace attnzoo::modules
