#pragma once
// LITv2 (Pan et al., NeurIPS 2022, arXiv 2205.13213), official code ziplab/LITv2 classification/models.
// Keys: patch_embed.{proj,norm}, layers.{i}.blocks.{j} (HiLo blocks where has_msa, ConvFFN blocks
// before), layers.{i}.downsample (DTM with a deformable conv), norm, head. Square inputs of img_size.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/patch_embed.h>

#include <torch/arg.h>

namespace attnzoo::models {

struct LITv2Options {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 96;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3, 6, 12, 24};
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.1;
  TORCH_ARG(std::vector<int64_t>, has_msa) = std::vector<int64_t>{0, 0, 1, 1};
  TORCH_ARG(double, alpha) = 0.5;
  TORCH_ARG(std::vector<int64_t>, local_ws) = std::vector<int64_t>{0, 0, 2, 1};
};

/// The official constructor arguments of LITv2 (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(LITv2Options& o, V& v) {
  v.arg("img_size", o.img_size());
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("depths", o.depths());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.ignored("drop_rate", 0.0);  // zero in every official variant
  v.ignored("attn_drop_rate", 0.0);
  v.arg("drop_path_rate", o.drop_path_rate());
  v.fixed_norm_layer("norm_layer", 1e-5);
  v.fixed("ape", false);  // absolute position embedding: not ported
  v.fixed("patch_norm", true);
  v.ignored("use_checkpoint", false);  // memory only
  v.arg("has_msa", o.has_msa());
  v.arg("alpha", o.alpha());
  v.arg("local_ws", o.local_ws());
}

class LITv2Impl : public ClassifierImpl {
 public:
  explicit LITv2Impl(const LITv2Options& options);
  /// Normed tokens of the last stage as NCHW.
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Tokens after the last block of each stage (before its DTM), NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;

  LITv2Options options;
  modules::PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm norm{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
};
TORCH_MODULE(LITv2);

}  // namespace attnzoo::models
