#include <attnzoo/modules/patch_embed.h>

namespace attnzoo::modules {

OverlapPatchEmbedImpl::OverlapPatchEmbedImpl(const OverlapPatchEmbedOptions& options_) : options(options_) { reset(); }

void OverlapPatchEmbedImpl::reset() {
  const int64_t k = options.patch_size();
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_chans(), options.embed_dim(), k)
                                                       .stride(options.stride())
                                                       .padding(k / 2)));
  norm = register_module("norm", BatchNorm2d(options.embed_dim()));
}

at::Tensor OverlapPatchEmbedImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "OverlapPatchEmbed: expected input [B, ",
              options.in_chans(), ", H, W], got ", x.sizes());
  return norm(proj(x));
}

PatchEmbedImpl::PatchEmbedImpl(const PatchEmbedOptions& options_) : options(options_) { reset(); }

void PatchEmbedImpl::reset() {
  const int64_t p = options.patch_size();
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_chans(), options.embed_dim(), p).stride(p)));
  if (options.norm()) norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.embed_dim()})));
}

int64_t PatchEmbedImpl::num_patches() const {
  const int64_t s = options.img_size() / options.patch_size();
  return s * s;
}

at::Tensor PatchEmbedImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "PatchEmbed: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  TORCH_CHECK(!options.strict_img_size() || (x.size(2) == options.img_size() && x.size(3) == options.img_size()),
              "PatchEmbed: input size (", x.size(2), "x", x.size(3), ") does not match the model (", options.img_size(),
              "x", options.img_size(), ")");
  const at::Tensor t = proj(x).flatten(2).transpose(1, 2);
  return norm ? norm(t) : t;
}

}  // namespace attnzoo::modules
