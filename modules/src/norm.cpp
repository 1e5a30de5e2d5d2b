#include <attnzoo/modules/norm.h>

#include <torch/torch.h>

namespace attnzoo::modules {

void LayerNorm2dImpl::reset() {
  weight = register_parameter("weight", torch::ones({channels_}));
  bias = register_parameter("bias", torch::zeros({channels_}));
}

at::Tensor LayerNorm2dImpl::forward(const at::Tensor& x) {
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {channels_}, weight, bias, eps_).permute({0, 3, 1, 2});
}

}  // namespace attnzoo::modules
