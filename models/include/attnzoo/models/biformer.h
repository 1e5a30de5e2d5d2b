#pragma once
// BiFormer (Zhu et al., CVPR 2023, arXiv 2303.08810), official code rayleizhu/BiFormer
// models/biformer.py with ops/bra_legacy.py. Keys: downsample_layers.{0..3}, stages.{0..3}.{b}, norm
// (BatchNorm2d), head. The STL (Swin-layout) ablation variants are not registered yet.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/biformer.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

namespace attnzoo::models {

struct BiFormerOptions {
  TORCH_ARG(std::vector<int64_t>, depth) = std::vector<int64_t>{3, 4, 8, 3};
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, embed_dim) = std::vector<int64_t>{64, 128, 320, 512};
  TORCH_ARG(int64_t, head_dim) = 64;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(modules::KvDownsampleMode, kv_downsample_mode) = modules::KvDownsampleMode::AdaAvgPool;
  TORCH_ARG(std::vector<int64_t>, kv_per_wins) = std::vector<int64_t>{2, 2, -1, -1};
  TORCH_ARG(std::vector<int64_t>, topks) = std::vector<int64_t>{8, 8, -1, -1};
  TORCH_ARG(int64_t, side_dwconv) = 5;
  TORCH_ARG(double, layer_scale_init_value) = -1;
  TORCH_ARG(std::vector<int64_t>, qk_dims) = std::vector<int64_t>{};  // required (heads = qk_dims / head_dim)
  TORCH_ARG(bool, param_routing) = false;
  TORCH_ARG(bool, diff_routing) = false;
  TORCH_ARG(bool, soft_routing) = false;
  TORCH_ARG(bool, pre_norm) = true;
  TORCH_ARG(int64_t, before_attn_dwconv) = 3;
  TORCH_ARG(bool, auto_pad) = false;
  TORCH_ARG(std::vector<int64_t>, kv_downsample_ratios) = std::vector<int64_t>{4, 2, 1, 1};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4, 4, 4, 4};
  TORCH_ARG(modules::ParamAttention, param_attention) = modules::ParamAttention::QKVO;
  TORCH_ARG(bool, mlp_dwconv) = false;
};

/// The official constructor arguments of BiFormer (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(BiFormerOptions& o, V& v) {
  v.arg("depth", o.depth());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("head_dim", o.head_dim());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.fixed("representation_size", nullptr);  // no official variant uses it
  v.arg("drop_path_rate", o.drop_path_rate());
  v.ignored("drop_rate", 0.0);  // never used by the official forward
  v.ignored("use_checkpoint_stages", nlohmann::json::array());  // memory only
  v.arg("n_win", o.n_win());
  v.choice("kv_downsample_mode", o.kv_downsample_mode(), modules::kKvDownsampleModeNames);
  v.arg("kv_per_wins", o.kv_per_wins());
  v.arg("topks", o.topks());
  v.arg("side_dwconv", o.side_dwconv());
  v.arg("layer_scale_init_value", o.layer_scale_init_value());
  v.arg("qk_dims", o.qk_dims());  // the official [None] * 4 cannot build (heads = qk_dim // head_dim)
  v.arg("param_routing", o.param_routing());
  v.arg("diff_routing", o.diff_routing());
  v.arg("soft_routing", o.soft_routing());
  v.arg("pre_norm", o.pre_norm());
  v.fixed("pe", nullptr);  // as in every official variant
  v.ignored("pe_stages", nlohmann::json::array({0}));  // needs pe
  v.arg("before_attn_dwconv", o.before_attn_dwconv());
  v.arg("auto_pad", o.auto_pad());
  v.ignored("kv_downsample_kernels", nlohmann::json::array({4, 2, 1, 1}));  // unused by the legacy BRA
  v.arg("kv_downsample_ratios", o.kv_downsample_ratios());
  v.arg("mlp_ratios", o.mlp_ratios());
  v.choice("param_attention", o.param_attention(), modules::kParamAttentionNames);
  v.arg("mlp_dwconv", o.mlp_dwconv());
}

class BiFormerImpl : public ClassifierImpl {
 public:
  explicit BiFormerImpl(const BiFormerOptions& options);

  at::Tensor forward_features(const at::Tensor& x) override;  // final BatchNorm applied, NCHW
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Stage outputs (NCHW, before the final BatchNorm).
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }
  std::vector<FeatureInfo> feature_info() const override;

  BiFormerOptions options;
  torch::nn::ModuleList downsample_layers;
  torch::nn::ModuleList stages;
  modules::BatchNorm2d norm{nullptr};
};
TORCH_MODULE(BiFormer);

BiFormerOptions biformer_options_from_args(const nlohmann::json& args);

}  // namespace attnzoo::models
