#pragma once
// BiFormer-STL (BiFormer paper ablation, arXiv 2303.08810; official models/biformer_stl.py and
// models/biformer_stl_nchw.py).
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/biformer_stl.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

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

/// The official constructor arguments of BiFormerSTL (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(BiFormerSTLOptions& o, V& v) {
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("depth", o.depth());
  v.arg("embed_dim", o.embed_dim());
  v.arg("head_dim", o.head_dim());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop_path_rate", o.drop_path_rate());
  v.ignored("drop_rate", 0.0);  // unused by the official forward
  v.ignored("use_checkpoint_stages", nlohmann::json::array());  // memory only
  v.arg("mlp_ratios", o.mlp_ratios());
  v.arg("norm_layer", o.norm_layer());
  v.nullable("pre_head_norm_layer", o.pre_head_norm_layer(), std::string());
  v.arg("n_wins", o.n_wins());
  v.arg("topks", o.topks());
  v.arg("side_dwconv", o.side_dwconv());
}

class BiFormerSTLImpl : public ClassifierImpl {
 public:
  explicit BiFormerSTLImpl(const BiFormerSTLOptions& options);
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
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
