#pragma once
// Neighborhood Attention Transformers (SHI-Labs/Neighborhood-Attention-Transformer, classification/), one
// class per official class:
//  - NAT (nat.py; Hassani et al., arXiv 2204.07143), also DiNAT (dinat.py: `class DiNAT(NAT): pass`, NAT
//    with per-layer dilations, arXiv 2209.15001): conv tokenizer, levels of NATLayers + conv downsampler.
//    Keys patch_embed.*, levels.{i}.blocks.{j}.*, levels.{i}.downsample.*, norm, head.
//  - DiNATs (dinats.py DiNAT_s): the Swin layout (4x4 patch embed, patch merging). Keys layers.{i}.blocks.{j}.*.
//  - NATIsotropic (isotropic.py): a ViT-style single-resolution stack (NAT / DiNAT layers, or global
//    attention with a relative position bias for the ViT-RPB baseline). Keys layers.{i}.*.
// Everything runs channels-last inside, as the official code; features are returned NCHW.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/nat.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <functional>
#include <string>
#include <vector>

namespace attnzoo::models {

/// The arguments every NAT class takes (any Options with these fields).
template <class Options, class V>
void visit_nat_common_args(Options& o, V& v) {
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.fixed_norm_layer("norm_layer", 1e-5);  // every official variant
}

struct NATOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 64;
  TORCH_ARG(double, mlp_ratio) = 3.0;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 4, 6, 5};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{2, 4, 8, 16};
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(std::vector<std::vector<int64_t>>, dilations) = std::vector<std::vector<int64_t>>{};  // empty: all 1
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: None (head_dim^-0.5)
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.2;
  TORCH_ARG(double, layer_scale) = 0.0;  // 0: None
};

template <class V>
void visit_args(NATOptions& o, V& v) {
  visit_nat_common_args(o, v);
  v.arg("depths", o.depths());
  v.arg("num_heads", o.num_heads());
  v.arg("kernel_size", o.kernel_size());
  v.arg("dilations", o.dilations());
  v.nullable("layer_scale", o.layer_scale(), 0.0);
}

struct DiNATsOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(bool, patch_norm) = true;
  TORCH_ARG(int64_t, embed_dim) = 96;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3, 6, 12, 24};
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(std::vector<std::vector<int64_t>>, dilations) = std::vector<std::vector<int64_t>>{};  // empty: all 1
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.2;
};

template <class V>
void visit_args(DiNATsOptions& o, V& v) {
  visit_nat_common_args(o, v);
  v.arg("patch_size", o.patch_size());
  v.arg("patch_norm", o.patch_norm());
  v.arg("depths", o.depths());
  v.arg("num_heads", o.num_heads());
  v.arg("kernel_size", o.kernel_size());
  v.arg("dilations", o.dilations());
}

/// isotropic.py's `layer`: neighborhood attention (NAT / DiNAT) or global attention with a relative
/// position bias (ViT-RPB).
enum class IsotropicLayer { kNeighborhood, kGlobal };

struct NATIsotropicOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, img_size) = 224;  // the fixed feature map is img_size / patch_size
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(bool, patch_norm) = true;
  TORCH_ARG(int64_t, embed_dim) = 384;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(int64_t, dilation) = 2;  // of the odd layers; the even ones are undilated
  TORCH_ARG(IsotropicLayer, layer) = IsotropicLayer::kNeighborhood;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.1;
};

template <class V>
void visit_args(NATIsotropicOptions& o, V& v) {
  visit_nat_common_args(o, v);
  v.arg("img_size", o.img_size());
  v.arg("patch_size", o.patch_size());
  v.arg("patch_norm", o.patch_norm());
  v.arg("depth", o.depth());
  v.arg("num_heads", o.num_heads());
  v.arg("kernel_size", o.kernel_size());  // null (the ViT-RPB variants): unused
  v.arg("dilation", o.dilation());
  v.choice("layer", o.layer(),
           {{"NATransformerLayer", IsotropicLayer::kNeighborhood}, {"VisionTransformerLayer", IsotropicLayer::kGlobal}});
}

/// What the three classes share: levels of NATLayers on channels-last maps with a downsampler between
/// levels, the final LayerNorm, mean pooling and the head. Subclasses build the patch embedding and the
/// levels in their constructors, then call finish().
class NATBackboneImpl : public ClassifierImpl {
 public:
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  std::vector<FeatureInfo> feature_info() const override { return feature_info_; }
  std::vector<std::string> no_weight_decay() const override { return {"rpb"}; }

 protected:
  /// NCHW image -> [B, H, W, C].
  virtual at::Tensor embed(const at::Tensor& x) = 0;
  /// Appends one level of layers (`downsample` may be empty) and its feature info.
  void add_level(std::vector<modules::NATLayer> layers, torch::nn::AnyModule downsample, FeatureInfo info);
  /// Levels of NATLayers built from `layers[i]` with `downsample(dim)` after every level but the last,
  /// registered as `container`.{i}.{blocks, downsample} (modules of class `level_class`).
  void add_levels(const std::vector<std::vector<modules::NATLayerOptions>>& layers, const std::string& container,
                  const std::string& level_class, int64_t stem_stride,
                  const std::function<torch::nn::AnyModule(int64_t dim)>& downsample);
  /// The final norm over `num_features` channels, the head, and the official weight init.
  void finish(int64_t num_features, int64_t num_classes);

  std::vector<std::vector<modules::NATLayer>> blocks_;
  std::vector<torch::nn::AnyModule> downsamplers_;
  torch::nn::LayerNorm norm_{nullptr};
  std::vector<FeatureInfo> feature_info_;

 private:
  // Runs every level; fills `feats` (NHWC, before each downsampler) when given. Returns the last map.
  at::Tensor run(const at::Tensor& x, StageSink sink);
};

class NATImpl : public NATBackboneImpl {
 public:
  explicit NATImpl(const NATOptions& options);
  void reset_classifier(int64_t num_classes) override;
  NATOptions options;
  torch::nn::Sequential tokenizer{nullptr};  // patch_embed.proj: two 3x3/2 convs
  torch::nn::LayerNorm patch_norm{nullptr};  // patch_embed.norm

 protected:
  at::Tensor embed(const at::Tensor& x) override;
};
TORCH_MODULE(NAT);

class DiNATsImpl : public NATBackboneImpl {
 public:
  explicit DiNATsImpl(const DiNATsOptions& options);
  void reset_classifier(int64_t num_classes) override;
  DiNATsOptions options;
  torch::nn::Conv2d patch_conv{nullptr};     // patch_embed.proj
  torch::nn::LayerNorm patch_norm{nullptr};  // patch_embed.norm (patch_norm)

 protected:
  at::Tensor embed(const at::Tensor& x) override;
};
TORCH_MODULE(DiNATs);

class NATIsotropicImpl : public NATBackboneImpl {
 public:
  explicit NATIsotropicImpl(const NATIsotropicOptions& options);
  void reset_classifier(int64_t num_classes) override;
  NATIsotropicOptions options;
  torch::nn::Conv2d patch_conv{nullptr};
  torch::nn::LayerNorm patch_norm{nullptr};

 protected:
  at::Tensor embed(const at::Tensor& x) override;
};
TORCH_MODULE(NATIsotropic);

}  // namespace attnzoo::models
