#pragma once
// timm's feature API for downstream work: the stage outputs of any zoo classifier, selected by index
// (`forward_intermediates(x, indices, output_fmt)`), and a features-only model (timm's
// `create_model(name, features_only=True, out_indices=...)` -> FeatureListNet).
#include <attnzoo/models/classifier.h>

#include <nlohmann/json.hpp>
#include <torch/arg.h>

#include <string>
#include <vector>

namespace attnzoo::models {

/// timm's feature_take_indices: `indices` of `num_stages` stages, an index < 0 counting from the end
/// (-1 = the last stage), sorted and checked. Empty = every stage. Throws std::invalid_argument naming
/// the index that is out of range.
std::vector<int64_t> feature_take_indices(int64_t num_stages, const std::vector<int64_t>& indices);
/// The last `n` stages (timm's `indices=n`).
std::vector<int64_t> last_stages(int64_t num_stages, int64_t n);

struct IntermediatesOptions {
  /// Stages to return (feature_take_indices); empty: all.
  TORCH_ARG(std::vector<int64_t>, indices) = {};
  /// "NCHW" (default) or "NHWC": the layout of the returned maps.
  TORCH_ARG(std::string, output_fmt) = "NCHW";
};

/// The selected stage outputs of `model` as maps, in stage order: NCHW as the hierarchical families give
/// them (the last one with the final norm applied); ViT-style token outputs [B, prefix + H*W, C] reshaped to
/// their H x W grid, the prefix (class) tokens dropped, as timm does.
std::vector<at::Tensor> forward_intermediates(ClassifierImpl& model, const at::Tensor& x,
                                              const IntermediatesOptions& options = {});

/// A classifier that returns its selected stage maps instead of logits. Its submodules are the
/// classifier's own, under the same names, so every weights file of the classifier loads unchanged.
class FeatureListNetImpl : public torch::nn::Module {
 public:
  FeatureListNetImpl(ClassifierPtr model, std::vector<int64_t> out_indices, std::string output_fmt = "NCHW");
  std::vector<at::Tensor> forward(const at::Tensor& x);
  /// feature_info of the selected stages (channels, reduction, module), in order.
  std::vector<FeatureInfo> feature_info() const;
  const std::vector<int64_t>& out_indices() const { return out_indices_; }
  ClassifierImpl& classifier() { return *model_; }

 private:
  ClassifierPtr model_;
  std::vector<int64_t> out_indices_;
  std::string output_fmt_;
};
TORCH_MODULE(FeatureListNet);

/// create_model(name, overrides) as a features-only model; `out_indices` as feature_take_indices
/// (empty: every stage).
FeatureListNet create_features_model(const std::string& name, const std::vector<int64_t>& out_indices = {},
                                     const nlohmann::json& overrides = {});

}  // namespace attnzoo::models
