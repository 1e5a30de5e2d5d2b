#pragma once
// Options of the ResNet-style layers and the 2-D self-attention layers of timm's ByobNet / byoanet
// (HaloNet, BoTNet, LambdaNetworks). Names and defaults are timm's constructor arguments.
#include <nlohmann/json.hpp>
#include <torch/arg.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
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

/// timm's BatchNormAct2d: BatchNorm2d + an activation by timm name ("relu", "silu", "gelu", "" = none).
struct BatchNormAct2dOptions {
  explicit BatchNormAct2dOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(std::string, act_layer) = "relu";
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
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

/// timm's SEModule(channels, rd_ratio, rd_channels, rd_divisor, add_maxpool, bias, act_layer, norm_layer,
/// gate_layer), the arguments this port has.
template <class V>
void visit_args(SEModuleOptions& o, V& v) {
  v.required("channels", o.channels());
  v.arg("rd_ratio", o.rd_ratio());
  v.nullable("rd_channels", o.rd_channels(), int64_t{0});
  v.arg("rd_divisor", o.rd_divisor());
  v.fixed("add_maxpool", false);
  v.arg("bias", o.bias());
  v.arg("act_layer", o.act_layer());
  v.fixed("norm_layer", nullptr);
  v.fixed("gate_layer", "sigmoid");
}

/// Efficient channel attention (timm EcaModule): mean -> Conv1d over channels (no bias) -> sigmoid gate.
/// kernel_size 0: from the channel count, k = int(|log2(C) + beta| / gamma) made odd, at least 3.
struct EcaModuleOptions {
  explicit EcaModuleOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, kernel_size) = 0;
  TORCH_ARG(double, gamma) = 2.0;
  TORCH_ARG(double, beta) = 1.0;
};

template <class V>
void visit_args(EcaModuleOptions& o, V& v) {
  v.required("channels", o.channels());
  v.arg("kernel_size", o.kernel_size());
  v.arg("gamma", o.gamma());
  v.arg("beta", o.beta());
  v.fixed("act_layer", nullptr);
  v.fixed("gate_layer", "sigmoid");
  v.fixed("use_mlp", false);
}

/// timm's feat_size: an int (a square map) or [H, W].
inline std::vector<int64_t> parse_feat_size(const nlohmann::json& j) {
  if (j.is_number_integer()) return {j.get<int64_t>(), j.get<int64_t>()};
  auto v = j.get<std::vector<int64_t>>();
  if (v.size() != 2) throw std::invalid_argument("expected an int or [H, W]");
  return v;
}

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

/// timm's HaloAttn(dim, dim_out, feat_size, stride, num_heads, dim_head, block_size, halo_size, qk_ratio,
/// qkv_bias, avg_down, scale_pos_embed).
template <class V>
void visit_args(HaloAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.nullable("dim_out", o.dim_out(), int64_t{0});
  v.ignored("feat_size", nullptr);  // unused by HaloAttn
  v.arg("stride", o.stride());
  v.arg("num_heads", o.num_heads());
  v.nullable("dim_head", o.dim_head(), int64_t{0});
  v.arg("block_size", o.block_size());
  v.arg("halo_size", o.halo_size());
  v.arg("qk_ratio", o.qk_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("avg_down", o.avg_down());
  v.arg("scale_pos_embed", o.scale_pos_embed());
}

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

template <class V>
void visit_args(BottleneckAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.nullable("dim_out", o.dim_out(), int64_t{0});
  v.parsed("feat_size", o.feat_size(), parse_feat_size);  // required in practice: the module checks it
  v.arg("stride", o.stride());
  v.arg("num_heads", o.num_heads());
  v.nullable("dim_head", o.dim_head(), int64_t{0});
  v.arg("qk_ratio", o.qk_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("scale_pos_embed", o.scale_pos_embed());
}

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

template <class V>
void visit_args(LambdaLayerOptions& o, V& v) {
  v.required("dim", o.dim());
  v.nullable("dim_out", o.dim_out(), int64_t{0});
  v.parsed("feat_size", o.feat_size(), parse_feat_size);
  v.arg("stride", o.stride());
  v.arg("num_heads", o.num_heads());
  v.nullable("dim_head", o.dim_head(), int64_t{0});
  v.nullable("r", o.r(), int64_t{0});
  v.arg("qk_ratio", o.qk_ratio());
  v.arg("qkv_bias", o.qkv_bias());
}

/// timm's LayerFn for a block: the activation, the channel attention and the self-attention layer.
struct ByobLayers {
  std::string act_layer = "relu";
  std::string attn_layer;            // "", "se", "eca"
  nlohmann::json attn_kwargs = nlohmann::json::object();
  std::string self_attn_layer;       // "", "halo", "bottleneck", "lambda"
  nlohmann::json self_attn_kwargs = nlohmann::json::object();
};

/// timm's `downsample` of a ByobNet block: the shortcut when the shape changes.
enum class ByobDownsample {
  Avg,      // "avg": avg-pool (when strided) + 1x1 ConvNormAct
  Conv1x1,  // "conv1x1": a strided 1x1 ConvNormAct
  None,     // "": no residual for that block
};
inline const std::vector<std::pair<std::string, ByobDownsample>> kByobDownsampleNames = {
    {"avg", ByobDownsample::Avg}, {"conv1x1", ByobDownsample::Conv1x1}, {"", ByobDownsample::None}};
/// timm's spelling ("avg", "conv1x1", "") -> the mode; std::invalid_argument naming `where` otherwise.
ByobDownsample byob_downsample_from_name(const std::string& name, const std::string& where);

/// ByobLayers as the `layer_cfg` object (the ByoModelCfg fields timm's get_layer_fns reads), and back.
/// Throws std::invalid_argument on unknown fields or a norm_layer other than batchnorm.
ByobLayers byob_layers_from_json(const nlohmann::json& layer_cfg);
void to_json(nlohmann::json& j, const ByobLayers& layers);

struct ByobBlockOptions {
  ByobBlockOptions(int64_t in_chs, int64_t out_chs) : in_chs_(in_chs), out_chs_(out_chs) {}
  TORCH_ARG(int64_t, in_chs);
  TORCH_ARG(int64_t, out_chs);
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, group_size) = 0;  // 0: one group; 1: depthwise
  TORCH_ARG(double, bottle_ratio) = 1.0;
  TORCH_ARG(ByobDownsample, downsample) = ByobDownsample::Avg;
  TORCH_ARG(bool, attn_last) = false;
  TORCH_ARG(bool, linear_out) = false;
  TORCH_ARG(bool, extra_conv) = false;
  TORCH_ARG(bool, bottle_in) = false;
  TORCH_ARG(bool, post_attn_na) = true;
  TORCH_ARG(std::vector<int64_t>, feat_size) = std::vector<int64_t>{};  // input map size, when known
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(ByobLayers, layers) = ByobLayers{};
};

/// The constructor arguments of timm's ByobNet blocks (in_chs, out_chs, kernel_size, stride, group_size,
/// bottle_ratio, downsample, ...), the layers as `layer_cfg`.
template <class V>
void visit_args(ByobBlockOptions& o, V& v) {
  v.required("in_chs", o.in_chs());
  v.required("out_chs", o.out_chs());
  v.arg("kernel_size", o.kernel_size());
  v.arg("stride", o.stride());
  v.arg("group_size", o.group_size());
  v.arg("bottle_ratio", o.bottle_ratio());
  v.choice("downsample", o.downsample(), kByobDownsampleNames);
  v.arg("attn_last", o.attn_last());
  v.arg("linear_out", o.linear_out());
  v.arg("extra_conv", o.extra_conv());
  v.arg("bottle_in", o.bottle_in());
  v.arg("post_attn_na", o.post_attn_na());
  v.arg("feat_size", o.feat_size());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.parsed("layer_cfg", o.layers(), byob_layers_from_json);
}

}  // namespace attnzoo::modules
