#pragma once
// timm's conv-norm-act layers: ConvNormAct (keys conv.*, bn.*) and BatchNormAct2d (BatchNorm2d whose
// parameters sit directly under the module, followed by an activation).
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/byobnet.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attnzoo::modules {

/// Applies a timm activation by name ("relu", "silu"/"swish", "gelu", "gelu_tanh", "tanh", "sigmoid",
/// "identity"/""). Unknown names throw std::invalid_argument.
at::Tensor apply_activation(const at::Tensor& x, const std::string& act);
/// Throws std::invalid_argument naming `owner` when `act` is not a known activation.
void check_activation(const std::string& act, const std::string& owner);

class ConvNormActImpl : public torch::nn::Cloneable<ConvNormActImpl> {
 public:
  explicit ConvNormActImpl(const ConvNormActOptions& options);
  ConvNormActImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : ConvNormActImpl(ConvNormActOptions(in_channels, out_channels, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ConvNormAct", options); }
  at::Tensor forward(const at::Tensor& x);

  ConvNormActOptions options;
  torch::nn::Conv2d conv{nullptr};
  BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvNormAct);

/// BatchNorm2d (eps 1e-5, momentum 0.1) + activation; state_dict keys weight, bias, running_mean,
/// running_var, num_batches_tracked directly under the module, as timm's BatchNormAct2d. (Own module:
/// LibTorch's BatchNorm2dImpl cannot be subclassed across shared libraries.)
class BatchNormAct2dImpl : public torch::nn::Cloneable<BatchNormAct2dImpl> {
 public:
  explicit BatchNormAct2dImpl(const BatchNormAct2dOptions& options);
  BatchNormAct2dImpl(int64_t num_features, std::string act_layer)
      : BatchNormAct2dImpl(BatchNormAct2dOptions(num_features).act_layer(std::move(act_layer))) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);

  BatchNormAct2dOptions options;
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNormAct2d);

}  // namespace attnzoo::modules
