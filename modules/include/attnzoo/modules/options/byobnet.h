#pragma once
// Options of the ResNet-style layers and the 2-D self-attention layers of timm's ByobNet / byoanet
// (HaloNet, BoTNet, LambdaNetworks). Names and defaults are timm's constructor arguments.
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnzoo::modules {

/// timm make_divisible: round v to the nearest multiple of `divisor` (at least `min_value`, default
/// divisor), adding one divisor when that loses more than (1 - round_limit) of v.
int64_t make_divisible(double v, int64_t divisor = 8, int64_t min_value = 0, double round_limit = 0.9);

/// Conv2d (no bias) -> BatchNorm2d -> activation, timm's ConvNormAct. Padding is the symmetric
/// ((stride - 1) + dilation * (k - 1)) / 2 of timm's create_conv2d(padding='').
struct ConvNormActOptions {
  ConvNormActOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(bool, apply_act) = true;
  /// "relu", "silu"/"swish", "gelu", "gelu_tanh", "tanh", "sigmoid", "identity".
  TORCH_ARG(std::string, act_layer) = "relu";
};

/// Squeeze-and-excitation (timm SEModule): mean -> fc1 1x1 -> ReLU -> fc2 1x1 -> sigmoid gate.
struct SEModuleOptions {
  explicit SEModuleOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;  // 0: make_divisible(channels * rd_ratio, rd_divisor, round_limit 0)
  TORCH_ARG(int64_t, rd_divisor) = 8;
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(std::string, act_layer) = "relu";
};

/// Efficient channel attention (timm EcaModule): mean -> Conv1d over channels (no bias) -> sigmoid gate.
/// kernel_size 0: from the channel count, k = int(|log2(C) + beta| / gamma) made odd, at least 3.
struct EcaModuleOptions {
  explicit EcaModuleOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, kernel_size) = 0;
  TORCH_ARG(double, gamma) = 2.0;
  TORCH_ARG(double, beta) = 1.0;
};

/// Halo attention (Vaswani et al. 2021, timm HaloAttn): blocked local self-attention, query blocks of
/// block_size, key/value windows of block_size + 2 * halo_size, relative position logits per axis.
struct HaloAttentionOptions {
  explicit HaloAttentionOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, dim_out) = 0;  // 0: dim
  TORCH_ARG(int64_t, stride) = 1;   // 1 or 2
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, dim_head) = 0;  // 0: make_divisible(dim_out * qk_ratio, 8) / num_heads
  TORCH_ARG(int64_t, block_size) = 8;
  TORCH_ARG(int64_t, halo_size) = 3;
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(bool, avg_down) = false;
  TORCH_ARG(bool, scale_pos_embed) = false;
};

/// Bottleneck (global) self-attention of BoTNet (Srinivas et al. 2021, timm BottleneckAttn): needs the
/// feature map size, for its relative position tables.
struct BottleneckAttentionOptions {
  BottleneckAttentionOptions(int64_t dim, std::vector<int64_t> feat_size) : dim_(dim), feat_size_(std::move(feat_size)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, feat_size);  // {H, W}
  TORCH_ARG(int64_t, dim_out) = 0;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(int64_t, dim_head) = 0;
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(bool, scale_pos_embed) = false;
};

/// Lambda layer (Bello 2021, timm LambdaLayer): content lambda + local positional lambda (a Conv3d of
/// radius r) or, with r = 0, relative position embeddings over a fixed feat_size.
struct LambdaLayerOptions {
  explicit LambdaLayerOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, dim_out) = 0;
  TORCH_ARG(std::vector<int64_t>, feat_size) = std::vector<int64_t>{};
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(int64_t, dim_head) = 16;  // 0: make_divisible(dim_out * qk_ratio, 8) / num_heads
  TORCH_ARG(int64_t, r) = 9;          // 0 (Python None): relative position embedding
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
};

}  // namespace attnzoo::modules
