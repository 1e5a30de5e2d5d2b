#include <attnzoo/modules/patch_embed.h>

namespace attnzoo::modules {

OverlapPatchEmbedImpl::OverlapPatchEmbedImpl(const OverlapPatchEmbedOptions& options_) : options(options_) { reset(); }

void OverlapPatchEmbedImpl::reset() {
  const int64_t k = options.patch_size();
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_chans(), options.embed_dim(), k)
                                                       .stride(options.stride())
                                                       .padding(k / 2)));
  norm = register_module("norm", torch::nn::BatchNorm2d(options.embed_dim()));
}

at::Tensor OverlapPatchEmbedImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "OverlapPatchEmbed: expected input [B, ",
              options.in_chans(), ", H, W], got ", x.sizes());
  return norm(proj(x));
}

}  // namespace attnzoo::modules
