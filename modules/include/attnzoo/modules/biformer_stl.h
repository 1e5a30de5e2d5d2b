#pragma once
// The refactored, NCHW bi-level routing attention of BiFormer (ops/bra_nchw.py nchwBRA +
// ops/torch/rrsda.py regional_routing_attention_torch), used by biformer_stl_nchw. It is NOT the
// legacy BRA (biformer.h) with another layout: regions are (H // n_win, W // n_win) and ceil-pooled with
// count_include_pad=False (non-divisible maps get extra, smaller regions), q/k/v are zero-padded to whole
// regions after the projection, the scale is dim^-0.5 (not head_dim^-0.5), and routing runs on the
// (detached) pooled q/k of all channels. Keys: lepe, qkv_linear, output_linear.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/biformer_stl.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>

namespace attnzoo::modules {

/// Token-to-token attention inside routed regions (rrsda): query, key, value [B, C, H, W];
/// region_graph [B, heads, q_regions, topk] (region indices, row-major); zero-pads to whole regions,
/// gathers the topk key/value regions of each query region, softmax((q * scale) k^T) v; returns [B, C, H, W].
/// While attention is captured, its rows are recorded for `self` (the calling module; nullptr: not recorded).
at::Tensor regional_routing_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                      double scale, const at::Tensor& region_graph, std::array<int64_t, 2> region_size,
                                      const torch::nn::Module* self = nullptr);

class NchwBRAImpl : public torch::nn::Cloneable<NchwBRAImpl> {
 public:
  explicit NchwBRAImpl(const NchwBRAOptions& options);
  explicit NchwBRAImpl(int64_t dim) : NchwBRAImpl(NchwBRAOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NchwBRA", options); }
  /// x [B, dim, H, W] with H, W >= n_win -> [B, dim, H, W].
  at::Tensor forward(const at::Tensor& x);

  NchwBRAOptions options;
  torch::nn::Conv2d lepe{nullptr};
  torch::nn::Conv2d qkv_linear{nullptr};
  torch::nn::Conv2d output_linear{nullptr};
};
TORCH_MODULE(NchwBRA);

class NchwAttentionLePEImpl : public torch::nn::Cloneable<NchwAttentionLePEImpl> {
 public:
  explicit NchwAttentionLePEImpl(const NchwAttentionLePEOptions& options);
  explicit NchwAttentionLePEImpl(int64_t dim) : NchwAttentionLePEImpl(NchwAttentionLePEOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NchwAttentionLePE", options); }
  at::Tensor forward(const at::Tensor& x);

  NchwAttentionLePEOptions options;
  torch::nn::Conv2d qkv{nullptr};
  torch::nn::Conv2d proj{nullptr};
  torch::nn::Conv2d lepe{nullptr};
};
TORCH_MODULE(NchwAttentionLePE);

class NchwBiFormerBlockImpl : public torch::nn::Cloneable<NchwBiFormerBlockImpl> {
 public:
  explicit NchwBiFormerBlockImpl(const NchwBiFormerBlockOptions& options);
  explicit NchwBiFormerBlockImpl(int64_t dim) : NchwBiFormerBlockImpl(NchwBiFormerBlockOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NchwBiFormerBlock", options); }
  at::Tensor forward(const at::Tensor& x);

  NchwBiFormerBlockOptions options;
  torch::nn::AnyModule norm1, attn, norm2;
  torch::nn::Sequential mlp{nullptr};
  double drop_path_rate = 0.0;
};
TORCH_MODULE(NchwBiFormerBlock);

}  // namespace attnzoo::modules
