#include <attnzoo/modules/drop_path.h>

#include <ATen/ATen.h>

namespace attnzoo::modules {

at::Tensor drop_path(const at::Tensor& x, double p, bool training, bool scale_by_keep) {
  if (p <= 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  at::Tensor mask = at::empty(shape, x.options()).bernoulli_(keep);
  if (keep > 0.0 && scale_by_keep) mask.div_(keep);
  return x * mask;
}

}  // namespace attnzoo::modules
