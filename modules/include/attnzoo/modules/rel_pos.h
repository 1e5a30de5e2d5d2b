#pragma once
// Relative position logits per axis (Bello et al., "Attention Augmented Convolutional Networks"; timm's
// PosEmbedRel of HaloNet and BoTNet). A query at (qr, qc) of a qh x qw grid and a key at (kr, kc) of a
// kh x kw grid get q . height_rel[kr - qr + kh - 1] + q . width_rel[kc - qc + kw - 1].
// Global attention (BoTNet) has query grid == key grid == the feature map; halo attention has a query
// block inside a larger key window. Computed by gathering from q @ rel^T (no pad/reshape trick needed).
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <array>

namespace attnzoo::modules {

/// timm's RelPosEmb (halo / bottleneck attention): height_rel (2 * kh - 1, dim_head), width_rel
/// (2 * kw - 1, dim_head) for a qh x qw query block over a kh x kw key window.
using Size2d = std::array<int64_t, 2>;  // (H, W); TORCH_ARG cannot take a type with a comma

struct RelPosEmbed2dOptions {
  RelPosEmbed2dOptions(Size2d query_size, Size2d key_size, int64_t dim_head)
      : query_size_(query_size), key_size_(key_size), dim_head_(dim_head) {}
  TORCH_ARG(Size2d, query_size);
  TORCH_ARG(Size2d, key_size);
  TORCH_ARG(int64_t, dim_head);
};

class RelPosEmbed2dImpl : public torch::nn::Cloneable<RelPosEmbed2dImpl> {
 public:
  explicit RelPosEmbed2dImpl(const RelPosEmbed2dOptions& options) : options(options) { reset(); }
  RelPosEmbed2dImpl(std::array<int64_t, 2> query_size, std::array<int64_t, 2> key_size, int64_t dim_head)
      : RelPosEmbed2dImpl(RelPosEmbed2dOptions(query_size, key_size, dim_head)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// q [..., qh * qw, dim_head] -> logits [..., qh * qw, kh * kw].
  at::Tensor forward(const at::Tensor& q);

  RelPosEmbed2dOptions options;
  at::Tensor height_rel, width_rel;

 private:
  at::Tensor index_h_, index_w_;  // [Q, kh], [Q, kw] (not state: rebuilt from the sizes)
};
TORCH_MODULE(RelPosEmbed2d);

}  // namespace attnzoo::modules
