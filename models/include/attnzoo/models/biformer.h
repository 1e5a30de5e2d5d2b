#pragma once
// BiFormer (Zhu et al., CVPR 2023, arXiv 2303.08810), official code rayleizhu/BiFormer
// models/biformer.py with ops/bra_legacy.py. Keys: downsample_layers.{0..3}, stages.{0..3}.{b}, norm
// (BatchNorm2d), head. The STL (Swin-layout) ablation variants are not registered yet.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/biformer_block.h>

#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
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
  TORCH_ARG(std::string, kv_downsample_mode) = "ada_avgpool";
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
  TORCH_ARG(std::string, param_attention) = "qkvo";
  TORCH_ARG(bool, mlp_dwconv) = false;
};

class BiFormerImpl : public ClassifierImpl {
 public:
  explicit BiFormerImpl(const BiFormerOptions& options);

  at::Tensor forward_features(const at::Tensor& x) override;  // final BatchNorm applied, NCHW
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Stage outputs (NCHW, before the final BatchNorm).
  std::vector<at::Tensor> forward_intermediates(const at::Tensor& x) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }
  std::vector<FeatureInfo> feature_info() const override;

  BiFormerOptions options;
  torch::nn::ModuleList downsample_layers;
  torch::nn::ModuleList stages;
  torch::nn::BatchNorm2d norm{nullptr};
};
TORCH_MODULE(BiFormer);

BiFormerOptions biformer_options_from_args(const nlohmann::json& args);

}  // namespace attnzoo::models

namespace attnzoo::models {

/// BiFormer-STL (models/biformer_stl.py): the Swin-T layout with bi-level routing attention, the
/// paper's ablation model. Stem conv 4x4/4 -> norm; merging norm -> conv 2x2/2; stages of blocks
/// (keys stages.{i}.blocks.{j}); final norm; mean pool; head. Heads = embed_dim / head_dim.
struct BiFormerSTLOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, depth) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, embed_dim) = std::vector<int64_t>{96, 192, 384, 768};
  TORCH_ARG(int64_t, head_dim) = 32;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4, 4, 4, 4};
  TORCH_ARG(std::string, norm_layer) = "LayerNorm2d";  // or BatchNorm2d
  TORCH_ARG(std::string, pre_head_norm_layer) = "";    // empty: norm_layer
  TORCH_ARG(std::vector<int64_t>, n_wins) = std::vector<int64_t>{7, 7, 7, 7};
  TORCH_ARG(std::vector<int64_t>, topks) = std::vector<int64_t>{1, 4, 16, -2};
  TORCH_ARG(int64_t, side_dwconv) = 5;
  /// biformer_stl_nchw (models/biformer_stl_nchw.py): the same network with the refactored NCHW BRA
  /// (ops/bra_nchw.py) in blocks whose norms are always LayerNorm2d; topk -1 = global attention.
  TORCH_ARG(bool, nchw_bra) = false;
};

class BiFormerSTLImpl : public ClassifierImpl {
 public:
  explicit BiFormerSTLImpl(const BiFormerSTLOptions& options);
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_intermediates(const at::Tensor& x) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;

  BiFormerSTLOptions options;
  torch::nn::ModuleList downsample_layers;
  torch::nn::ModuleList stages;
  std::shared_ptr<torch::nn::Module> norm;

 private:
  std::vector<std::vector<torch::nn::AnyModule>> blocks_;  // [stage][block], either block type
  at::Tensor apply(const std::shared_ptr<torch::nn::Module>& m, const at::Tensor& x) const;
};
TORCH_MODULE(BiFormerSTL);

}  // namespace attnzoo::models
