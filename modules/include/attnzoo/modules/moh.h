#pragma once
// MoH, mixture-of-head attention (SkyworkAI/MoH MoH-ViT/attention.py `Attention`): MoHAttention, its 1-D form, and
// TransNeXt's relative position tables (transnext.py get_relative_position_cpb) that its forward takes.
// In training, each forward with routed heads records the router's load-balance loss
// (mean(gates) . mean(top-k mask) * E^2, E = routed experts) in `load_balancing_loss`, to be added to the task
// loss by the caller (the official code collects it in a class-level list).
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/options/moh.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <tuple>
#include <utility>

namespace attnzoo::modules {

/// get_relative_position_cpb: (idx_map [Nq * Nk] int64, relative_coords_table [T, 2]) for a query grid, a key grid
/// (adaptive-average-pooled positions) and the pretraining size; the table is log-spaced as Swin V2's.
std::pair<at::Tensor, at::Tensor> relative_position_cpb(std::vector<int64_t> query_size, std::vector<int64_t> key_size,
                                                        std::vector<int64_t> pretrain_size = {});

/// The per-token weights of the heads [B, N, heads] (official MoH gating) and the load-balance loss (undefined
/// unless training with routed heads).
struct HeadGates {
  at::Tensor gates, load_balancing_loss;
};

class MoHAttentionImpl : public torch::nn::Cloneable<MoHAttentionImpl> {
 public:
  explicit MoHAttentionImpl(const MoHAttentionOptions& options);
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::MoHAttention", options); }
  /// x [B, N = H * W, C] with the tables of relative_position_cpb(input_resolution, input_resolution).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W, const at::Tensor& relative_pos_index,
                     const at::Tensor& relative_coords_table);
  /// The same with the tables computed for the H x W map.
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  MoHAttentionOptions options;
  at::Tensor temperature, query_embedding;
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, cpb_fc1{nullptr}, cpb_fc2{nullptr};
  torch::nn::Linear wg{nullptr}, wg_0{nullptr}, wg_1{nullptr};
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
  at::Tensor load_balancing_loss;  // of the last training forward
};
TORCH_MODULE(MoHAttention);

class AggregatedAttentionImpl : public torch::nn::Cloneable<AggregatedAttentionImpl> {
 public:
  explicit AggregatedAttentionImpl(const AggregatedAttentionOptions& options);
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::AggregatedAttention", options); }
  /// x [B, N = H * W, C] on the input_resolution map, with the tables of relative_position_cpb(input_resolution,
  /// pool size).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W, const at::Tensor& relative_pos_index,
                     const at::Tensor& relative_coords_table);
  /// The same with the tables computed here (pretraining size = input_resolution).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);
  int64_t pool_height() const { return pool_hw_[0]; }
  int64_t pool_width() const { return pool_hw_[1]; }

  AggregatedAttentionOptions options;
  at::Tensor temperature, query_embedding, relative_pos_bias_local, learnable_tokens, learnable_bias;
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr}, cpb_fc1{nullptr}, cpb_fc2{nullptr};
  torch::nn::Conv2d sr{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear wg{nullptr}, wg_0{nullptr}, wg_1{nullptr};
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
  at::Tensor load_balancing_loss;  // of the last training forward

 private:
  // The official non-persistent buffers, kept out of the state_dict: log(valid local keys + pooled keys) per query
  // [N, 1] (computed in float32 as the official numpy does) and the window positions outside the map [N, k^2].
  at::Tensor seq_length_scale_, padding_mask_;
  std::vector<int64_t> pool_hw_;
  /// Logits [B, h, N, k^2 + P] of the local windows and the pooled tokens, and the local / pooled values.
  struct Scores {
    at::Tensor logits, v_local, v_pool;
  };
  Scores scores(const at::Tensor& x, const at::Tensor& q_scaled, int64_t H, int64_t W, const at::Tensor& relative_pos_index,
                const at::Tensor& relative_coords_table);
};
TORCH_MODULE(AggregatedAttention);

class ConvolutionalGLUImpl : public torch::nn::Cloneable<ConvolutionalGLUImpl> {
 public:
  explicit ConvolutionalGLUImpl(const ConvolutionalGLUOptions& options);
  explicit ConvolutionalGLUImpl(int64_t in_features) : ConvolutionalGLUImpl(ConvolutionalGLUOptions(in_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ConvolutionalGLU", options); }
  /// Tokens [B, H * W, C] -> [B, H * W, out_features].
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  ConvolutionalGLUOptions options;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  DWConv dwconv{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(ConvolutionalGLU);

class TransNeXtBlockImpl : public torch::nn::Cloneable<TransNeXtBlockImpl> {
 public:
  explicit TransNeXtBlockImpl(const TransNeXtBlockOptions& options);
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::TransNeXtBlock", options); }
  /// Tokens [B, H * W, C] with the stage's relative-position tables.
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W, const at::Tensor& relative_pos_index,
                     const at::Tensor& relative_coords_table);
  /// The same with the tables computed here (pretraining size = input_resolution).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);
  /// The load-balance loss of the last training forward (undefined without routed heads).
  at::Tensor load_balancing_loss() const;

  TransNeXtBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  AggregatedAttention aggregated_attn{nullptr};  // registered as `attn` where sr_ratio > 1
  MoHAttention global_attn{nullptr};             // registered as `attn` where sr_ratio == 1
  ConvolutionalGLU mlp{nullptr};
  DropPath drop_path{nullptr};
};
TORCH_MODULE(TransNeXtBlock);

class TransNeXtPatchEmbedImpl : public torch::nn::Cloneable<TransNeXtPatchEmbedImpl> {
 public:
  explicit TransNeXtPatchEmbedImpl(const TransNeXtPatchEmbedOptions& options = {});
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::TransNeXtPatchEmbed", options); }
  /// NCHW -> (tokens [B, H' W', embed_dim], H', W').
  std::tuple<at::Tensor, int64_t, int64_t> forward(const at::Tensor& x);

  TransNeXtPatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(TransNeXtPatchEmbed);

class MoHAttention1DImpl : public torch::nn::Cloneable<MoHAttention1DImpl> {
 public:
  explicit MoHAttention1DImpl(const MoHAttention1DOptions& options);
  MoHAttention1DImpl(int64_t dim, int64_t num_heads) : MoHAttention1DImpl(MoHAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::MoHAttention1D", options); }
  /// x [B, L, C], key padding mask [B, L] (true = padding).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  MoHAttention1DOptions options;
  at::Tensor temperature, query_embedding;
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, wg{nullptr}, wg_0{nullptr}, wg_1{nullptr};
  at::Tensor load_balancing_loss;
};
TORCH_MODULE(MoHAttention1D);

}  // namespace attnzoo::modules
