#include <attnzoo/modules/patch_merging.h>

#include <torch/torch.h>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void PatchMergingImpl::reset() {
  const int64_t dim = options.dim();
  reduction = register_module("reduction", nn::Linear(nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({4 * dim}).eps(options.eps())));
}

void PatchMergingImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::PatchMerging(dim=" << options.dim() << ")";
}

at::Tensor PatchMergingImpl::forward(const at::Tensor& input) {
  const int64_t dim = options.dim();
  TORCH_CHECK(input.dim() == 4 && input.size(3) == dim, "PatchMerging: expected [B, H, W, ", dim, "], got ",
              input.sizes());
  at::Tensor x = input;
  const int64_t H = x.size(1), W = x.size(2);
  if (H % 2 == 1 || W % 2 == 1) x = F::pad(x, F::PadFuncOptions({0, 0, 0, W % 2, 0, H % 2}));
  using torch::indexing::None;
  using torch::indexing::Slice;
  const at::Tensor x0 = x.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)});
  const at::Tensor x1 = x.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)});
  const at::Tensor x2 = x.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)});
  const at::Tensor x3 = x.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)});
  return reduction(norm(torch::cat({x0, x1, x2, x3}, -1)));
}

}  // namespace attnzoo::modules
