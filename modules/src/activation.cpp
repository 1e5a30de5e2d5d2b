#include <attnzoo/modules/activation.h>

#include <ATen/ATen.h>

namespace attnzoo::modules {

at::Tensor nhwc_view(const at::Tensor& x) {
  if (x.dim() != 4 || x.is_contiguous() || !x.is_contiguous(at::MemoryFormat::ChannelsLast)) return {};
  return x.permute({0, 2, 3, 1});
}

at::Tensor gelu(const at::Tensor& x) {
  const at::Tensor v = nhwc_view(x);
  if (!v.defined()) return at::gelu(x);
  return at::gelu(v).permute({0, 3, 1, 2});
}

}  // namespace attnzoo::modules
