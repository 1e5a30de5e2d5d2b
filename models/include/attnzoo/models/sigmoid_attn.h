#pragma once
// Sigmoid-attention ViT (Ramapuram et al., arXiv 2409.04431; official blocks apple/ml-sigmoid-attention
// attention_simulator/layers/transformer.py TransformerBlock). The repository has no vision model: attnzoo's
// SigmoidViT is timm's VisionTransformer shell (patch_embed.proj, cls_token, pos_embed, blocks, norm, head) around
// the official blocks, with the paper's recipe by default: sigmoid attention, b = -log n (n = tokens incl. the
// class token), QK LayerNorm, LayerScale 1e-4. Keys cls_token, pos_embed, patch_embed.proj, blocks.{i}.{norm1,
// attn.{attn_temp, attn_bias, qkv, q_norm, k_norm, proj}, ls1.gamma, norm2, mlp.{fc1, fc2}, ls2.gamma}, norm, head.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/options/sigmoid_attn.h>
#include <attnzoo/modules/patch_embed.h>

#include <torch/arg.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/normalization.h>

#include <limits>
#include <memory>
#include <vector>

namespace attnzoo::models {

/// attn_bias of SigmoidViTOptions that stands for the paper's b = -log n (JSON null).
inline constexpr double kLogNBias = std::numeric_limits<double>::infinity();

struct SigmoidViTOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 768;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, bias) = true;  // Attention's qkv / proj and Mlp's fc2
  TORCH_ARG(bool, qk_norm) = true;
  TORCH_ARG(modules::AttnActivation, attn_activ_fn) = modules::AttnActivation::Sigmoid;
  TORCH_ARG(double, attn_bias) = kLogNBias;
  TORCH_ARG(double, attn_temp) = 0.0;
  TORCH_ARG(double, init_values) = 1e-4;  // LayerScale; None (0): none
  TORCH_ARG(modules::QKTransform, qk_transform) = modules::QKTransform::None;
  TORCH_ARG(modules::AttnLogitsTransform, attn_logits_transform) = modules::AttnLogitsTransform::None;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
};

template <class V>
void visit_args(SigmoidViTOptions& o, V& v) {
  v.arg("img_size", o.img_size());
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("depth", o.depth());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("bias", o.bias());
  v.arg("qk_norm", o.qk_norm());
  v.choice("attn_activ_fn", o.attn_activ_fn(), modules::kAttnActivationNames);
  v.nullable("attn_bias", o.attn_bias(), kLogNBias);
  v.nullable("attn_temp", o.attn_temp(), 0.0);
  v.nullable("init_values", o.init_values(), 0.0);
  v.choice("qk_transform", o.qk_transform(), modules::kQKTransformNames);
  v.choice("attn_logits_transform", o.attn_logits_transform(), modules::kAttnLogitsTransformNames);
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
}

class SigmoidViTImpl : public ClassifierImpl {
 public:
  explicit SigmoidViTImpl(const SigmoidViTOptions& options);
  /// Normed tokens [B, 1 + N, C].
  at::Tensor forward_features(const at::Tensor& x) override;
  /// The class token's features -> head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Every block's tokens [B, 1 + N, C].
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  at::Tensor norm_intermediate(int64_t stage, const at::Tensor& output) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }
  void reset_classifier(int64_t num_classes) override;

  SigmoidViTOptions options;
  at::Tensor cls_token, pos_embed;
  modules::PatchEmbed patch_embed{nullptr};
  torch::nn::Dropout pos_drop{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  struct Blocks;
  std::shared_ptr<Blocks> blocks_;
};
TORCH_MODULE(SigmoidViT);

}  // namespace attnzoo::models
