#include <attnzoo/modules/mlp.h>

#include <attnzoo/modules/activation.h>
#include <attnzoo/modules/depthwise.h>

#include <torch/nn/functional/activation.h>

namespace attnzoo::modules {

void DWConvImpl::reset() {
  dwconv = register_module(
      "dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.dim(), options.dim(), 3).stride(1).padding(1).groups(options.dim()).bias(true)));
}

void DWConvImpl::pretty_print(std::ostream& os) const { os << "attnzoo::DWConv(dim=" << options.dim() << ")"; }

at::Tensor DWConvImpl::forward(const at::Tensor& x) { return depthwise_conv2d(x, dwconv->weight, dwconv->bias, {1, 1}, {1, 1}); }

DWConvMlpImpl::DWConvMlpImpl(const DWConvMlpOptions& options_) : options(options_) { reset(); }

void DWConvMlpImpl::reset() {
  const int64_t in = options.in_features();
  const int64_t hidden = options.hidden_features() > 0 ? options.hidden_features() : in;
  const int64_t out = options.out_features() > 0 ? options.out_features() : in;
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, hidden, 1)));
  dwconv = register_module("dwconv", DWConv(hidden));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1)));
  drop = register_module("drop", torch::nn::Dropout(options.drop()));
}

at::Tensor DWConvMlpImpl::forward(const at::Tensor& x) {
  at::Tensor y = modules::gelu(dwconv(fc1(x)));
  return drop(fc2(drop(y)));
}

MlpImpl::MlpImpl(const MlpOptions& options_) : options(options_) { reset(); }

void MlpImpl::reset() {
  const int64_t in = options.in_features();
  const int64_t hidden = options.hidden_features() > 0 ? options.hidden_features() : in;
  const int64_t out = options.out_features() > 0 ? options.out_features() : in;
  fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, out));
  drop = register_module("drop", torch::nn::Dropout(options.drop()));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return drop(fc2(drop(torch::gelu(fc1(x))))); }

}  // namespace attnzoo::modules
