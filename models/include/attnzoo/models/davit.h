#pragma once
// DaViT (Ding et al., ECCV 2022, arXiv 2204.03645), official code dingmyu/davit. Official keys:
// patch_embeds.{i}, main_blocks.{stage}.{layer}.{0 spatial | 1 channel}, norms, head. timm-converted
// checkpoints (stem / stages.{i}.downsample / stages.{i}.blocks / head.norm / head.fc) load too.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/davit.h>

#include <torch/arg.h>

namespace attnzoo::models {

struct DaViTOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{1, 1, 3, 1};
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{64, 128, 192, 256};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3, 6, 12, 24};
  TORCH_ARG(int64_t, window_size) = 7;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_path_rate) = 0.1;
  TORCH_ARG(bool, ffn) = true;
  TORCH_ARG(bool, overlapped_patch) = false;
};

/// The official constructor arguments of DaViT (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(DaViTOptions& o, V& v) {
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("depths", o.depths());
  v.arg("patch_size", o.patch_size());
  v.arg("embed_dims", o.embed_dims());
  v.arg("num_heads", o.num_heads());
  v.arg("window_size", o.window_size());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.fixed_norm_layer("norm_layer", 1e-5);
  v.fixed("attention_types", nlohmann::json::array({"spatial", "channel"}));  // every official variant
  v.arg("ffn", o.ffn());
  v.arg("overlapped_patch", o.overlapped_patch());
  v.fixed("weight_init", "");
  v.ignored("img_size", 224);  // unused by the official forward
  v.ignored("drop_rate", 0.0);
  v.ignored("attn_drop_rate", 0.0);
}

class DaViTImpl : public ClassifierImpl {
 public:
  explicit DaViTImpl(const DaViTOptions& options);
  /// Tokens of the last stage as NCHW [B, C, H, W] (no norm: DaViT normalises after pooling).
  at::Tensor forward_features(const at::Tensor& x) override;
  /// mean over tokens -> norms (LayerNorm) -> head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;
  /// timm's davit.py matcher on the official names: patch_embeds.0 is timm's stem, patch_embeds.N its
  /// stages.N.downsample, main_blocks.N.M its stages.N.blocks.M, norms its norm_pre.
  std::vector<GroupMatch> group_matcher() const override {
    return {{0, R"(^patch_embeds\.0\.)", {}}, {1, R"(^patch_embeds\.(\d+))", {0}},
            {1, R"(^main_blocks\.(\d+)\.(\d+))", {}}, {1, R"(^norms)", {99999}}};
  }
  checkpoint::TensorDict filter_checkpoint(checkpoint::TensorDict weights) const override;
  checkpoint::TensorDict to_layout(checkpoint::TensorDict weights, const std::string& layout) const override;

  DaViTOptions options;
  torch::nn::ModuleList patch_embeds;
  torch::nn::ModuleList main_blocks;
  torch::nn::LayerNorm norms{nullptr};
};
TORCH_MODULE(DaViT);

/// timm's DaViT key names -> the official ones (the inverse of timm's checkpoint_filter_fn).
checkpoint::TensorDict davit_from_timm_keys(const checkpoint::TensorDict& weights);
/// The official DaViT key names -> timm's (what timm's checkpoint_filter_fn produces).
checkpoint::TensorDict davit_to_timm_keys(const checkpoint::TensorDict& weights);

}  // namespace attnzoo::models
