#include <attnzoo/modules/norm.h>

#include <torch/torch.h>

namespace attnzoo::modules {

void LayerNorm2dImpl::reset() {
  weight = register_parameter("weight", torch::ones({options.channels()}));
  bias = register_parameter("bias", torch::zeros({options.channels()}));
}

void LayerNorm2dImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::LayerNorm2d(" << options.channels() << ", eps=" << options.eps() << ")";
}

at::Tensor LayerNorm2dImpl::forward(const at::Tensor& x) {
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {options.channels()}, weight, bias, options.eps())
      .permute({0, 3, 1, 2});
}

}  // namespace attnzoo::modules
