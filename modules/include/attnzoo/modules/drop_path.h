#pragma once
// Stochastic depth (timm's DropPath): in training, zeroes a whole sample's residual branch with
// probability `p` and scales the kept ones by 1/(1-p); identity in eval mode or when p == 0.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace attnzoo::modules {

/// Stochastic-depth rate of every block: rising linearly from 0 to `rate` over all blocks, i.e. the
/// official `[x.item() for x in torch.linspace(0, rate, total)]` (float32, the default dtype).
std::vector<double> drop_path_rates(double rate, int64_t total);
/// The same rates split by stage (`depths` blocks each), as timm's calculate_drop_path_rates.
std::vector<std::vector<double>> drop_path_rates(double rate, const std::vector<int64_t>& depths);

/// Functional form; `scale_by_keep` as in timm.
at::Tensor drop_path(const at::Tensor& x, double p, bool training, bool scale_by_keep = true);

struct DropPathOptions {
  /* implicit */ DropPathOptions(double p = 0.0) : p_(p) {}  // NOLINT: DropPath(0.1) reads as LibTorch's Dropout(0.1)
  TORCH_ARG(double, p);
  TORCH_ARG(bool, scale_by_keep) = true;
};

class DropPathImpl : public torch::nn::Cloneable<DropPathImpl> {
 public:
  explicit DropPathImpl(const DropPathOptions& options = {}) : options(options) {}
  void reset() override {}
  at::Tensor forward(const at::Tensor& x) { return drop_path(x, options.p(), is_training(), options.scale_by_keep()); }
  double p() const { return options.p(); }
  void pretty_print(std::ostream& os) const override { os << "attnzoo::DropPath(p=" << options.p() << ")"; }
  DropPathOptions options;
};
TORCH_MODULE(DropPath);

}  // namespace attnzoo::modules
