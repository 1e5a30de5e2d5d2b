#pragma once
// timm's feature API for downstream work: the stage outputs of any zoo classifier, selected by index
// (`forward_intermediates(x, indices, norm, stop_early, output_fmt, intermediates_only)`), and a features-only model (timm's
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

/// timm's forward_intermediates arguments, with their meanings.
struct IntermediatesOptions {
  /// Stages to return (feature_take_indices); empty: all.
  TORCH_ARG(std::vector<int64_t>, indices) = {};
  /// Apply the final norm (ClassifierImpl::norm_intermediate): to the last stage of hierarchical families, to every
  /// block of ViT-style ones (ConViT, Agent-DeiT, sigmoid ViT), to VOLO's stages after the first downsampling.
  TORCH_ARG(bool, norm) = false;
  /// Stop after the last selected stage: the later stages never run.
  TORCH_ARG(bool, stop_early) = false;
  /// "NCHW" (default), "NHWC", or "NLC" (the spatial tokens [B, H*W, C]).
  TORCH_ARG(std::string, output_fmt) = "NCHW";
  /// Only the intermediates: `features` is left undefined and nothing runs after the last stage.
  TORCH_ARG(bool, intermediates_only) = false;
  /// Also return each intermediate's prefix (class) tokens, [B, prefix, C] ([B, 0, C] where it has none).
  TORCH_ARG(bool, return_prefix_tokens) = false;
};

/// What forward_intermediates returns: timm's `(final_features, intermediates)`, with the prefix tokens beside.
struct Intermediates {
  /// forward_features' output (unless intermediates_only). With stop_early before the last stage: the last stage
  /// that ran, normed as `norm` would norm it (timm's ViTs norm it, its hierarchical models return it as it is).
  at::Tensor features;
  /// The selected stage outputs in stage order, in output_fmt; ViT-style tokens [B, prefix + H*W, C] become their
  /// H x W grid with the prefix (class) tokens split off, as timm does.
  std::vector<at::Tensor> intermediates;
  /// With return_prefix_tokens: the prefix tokens split off each intermediate.
  std::vector<at::Tensor> prefix_tokens;
};

/// timm's `model.forward_intermediates(x, indices, norm, stop_early, output_fmt, intermediates_only)` (and
/// `return_prefix_tokens` of its ViTs) for any zoo classifier. Throws std::invalid_argument for a bad index or format.
Intermediates forward_intermediates(ClassifierImpl& model, const at::Tensor& x, const IntermediatesOptions& options = {});

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
