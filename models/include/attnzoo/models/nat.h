#pragma once
// Neighborhood Attention Transformers (SHI-Labs/Neighborhood-Attention-Transformer, classification/):
//  - NAT (nat.py; Hassani et al., arXiv 2204.07143) and DiNAT (dinat.py: NAT with per-layer dilations,
//    arXiv 2209.15001): conv tokenizer, levels of NATLayers + conv downsampler. Keys patch_embed.*,
//    levels.{i}.blocks.{j}.*, levels.{i}.downsample.*, norm, head.
//  - DiNAT_s (dinats.py): Swin layout (4x4 patch embed, patch merging). Keys layers.{i}.blocks.{j}.*.
//  - NATIsotropic (isotropic.py): ViT-style single-resolution stack (NAT / DiNAT layers, or global
//    attention with a relative position bias for the ViT-RPB baseline). Keys layers.{i}.*.
// Everything runs channels-last inside, as the official code; features are returned NCHW.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/nat.h>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace attnzoo::models {

struct NATOptions {
  TORCH_ARG(int64_t, embed_dim) = 64;
  TORCH_ARG(double, mlp_ratio) = 3.0;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 4, 6, 5};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{2, 4, 8, 16};
  TORCH_ARG(double, drop_path_rate) = 0.2;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(std::vector<std::vector<int64_t>>, dilations) = std::vector<std::vector<int64_t>>{};  // empty: 1
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, layer_scale) = 0.0;  // 0: None
  // DiNAT_s / isotropic layout
  TORCH_ARG(std::string, layout) = "nat";  // "nat", "dinat_s", "isotropic"
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(bool, patch_norm) = true;
  TORCH_ARG(int64_t, img_size) = 224;       // isotropic: fixed feature map img_size / patch_size
  TORCH_ARG(int64_t, depth) = 12;           // isotropic
  TORCH_ARG(int64_t, dilation) = 2;         // isotropic: odd layers' dilation
  TORCH_ARG(bool, global_attention) = false;  // isotropic: VisionTransformerLayer (MHSARPB)
};

class NATImpl : public ClassifierImpl {
 public:
  explicit NATImpl(const NATOptions& options);
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_intermediates(const at::Tensor& x) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override { return {"rpb"}; }

  NATOptions options;

 private:
  at::Tensor embed(const at::Tensor& x);  // NCHW image -> [B, H, W, C]
  // Runs every level; fills `feats` (NHWC, before each downsampler) when given. Returns the last map.
  at::Tensor run(const at::Tensor& x, std::vector<at::Tensor>* feats);
  std::shared_ptr<torch::nn::Module> patch_embed_;
  torch::nn::Sequential tokenizer_{nullptr};  // nat: patch_embed.proj (two convs)
  torch::nn::Conv2d patch_conv_{nullptr};     // dinat_s / isotropic: patch_embed.proj
  torch::nn::LayerNorm patch_norm_{nullptr};
  std::vector<std::vector<modules::NATLayer>> blocks_;
  std::vector<std::shared_ptr<torch::nn::Module>> downsamplers_;
  torch::nn::LayerNorm norm_{nullptr};
  std::vector<FeatureInfo> feature_info_;
};
TORCH_MODULE(NAT);

}  // namespace attnzoo::models
