#pragma once
// ConViT (d'Ascoli et al., ICML 2021, arXiv 2103.10697), official code facebookresearch/convit
// (convit.py VisionTransformer, models.py variants). Keys and shapes are the official ones: cls_token,
// pos_embed, patch_embed.proj, blocks.{i} (GPSA for i < local_up_to_layer, MHSA after), norm, head.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/patch_embed.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>

namespace attnzoo::models {

struct ConViTOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 48;  // the final width (the variants pass 48 * num_heads)
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(int64_t, local_up_to_layer) = 10;
  TORCH_ARG(double, locality_strength) = 1.0;
  TORCH_ARG(bool, use_pos_embed) = true;
};

/// The official constructor arguments of ConViT (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(ConViTOptions& o, V& v) {
  v.arg("img_size", o.img_size());
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("depth", o.depth());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.fixed("hybrid_backbone", nullptr);  // no official variant uses one
  v.norm_layer("norm_layer", o.norm_eps());
  v.ignored("global_pool", nullptr);
  v.arg("local_up_to_layer", o.local_up_to_layer());
  v.arg("locality_strength", o.locality_strength());
  v.arg("use_pos_embed", o.use_pos_embed());
}

class ConViTImpl : public ClassifierImpl {
 public:
  /// timm's layout is the official one.
  checkpoint::TensorDict to_layout(checkpoint::TensorDict weights, const std::string& layout) const override {
    return layout == "timm" ? weights : ClassifierImpl::to_layout(std::move(weights), layout);
  }
  explicit ConViTImpl(const ConViTOptions& options);

  /// Normed tokens [B, N + 1, C] (class token first once it has been inserted).
  at::Tensor forward_features(const at::Tensor& x) override;
  /// Class token -> head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Output of every block, [B, N(+1), C].
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  at::Tensor norm_intermediate(int64_t stage, const at::Tensor& output) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }
  std::vector<GroupMatch> group_matcher() const override {  // timm's convit.py
    return {{0, R"(^cls_token|pos_embed|patch_embed)", {}}, {1, R"(^blocks\.(\d+))", {}}, {1, R"(^norm)", {99999}}};
  }
  std::vector<FeatureInfo> feature_info() const override;

  ConViTOptions options;
  at::Tensor cls_token, pos_embed;
  modules::PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
};
TORCH_MODULE(ConViT);

ConViTOptions convit_options_from_args(const nlohmann::json& args);

}  // namespace attnzoo::models
