#include <attnzoo/modules/drop_path.h>

#include <ATen/ATen.h>

namespace attnzoo::modules {

std::vector<double> drop_path_rates(double rate, int64_t total) {
  if (total <= 0) return {};
  const at::Tensor r = at::linspace(0.0, rate, total, at::kFloat).to(at::kDouble);
  const double* p = r.data_ptr<double>();
  return std::vector<double>(p, p + total);
}

std::vector<std::vector<double>> drop_path_rates(double rate, const std::vector<int64_t>& depths) {
  int64_t total = 0;
  for (int64_t d : depths) total += d;
  const std::vector<double> flat = drop_path_rates(rate, total);
  std::vector<std::vector<double>> out;
  auto it = flat.begin();
  for (int64_t d : depths) {
    out.emplace_back(it, it + d);
    it += d;
  }
  return out;
}

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
