#pragma once
// VAN: Visual Attention Network (Guo et al., arXiv 2202.09741), official code
// Visual-Attention-Network/VAN-Classification models/van.py. State-dict keys and shapes are the
// official ones (1-indexed stages: patch_embed{i}, block{i}, norm{i}; head).
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/patch_embed.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace attnzoo::models {

struct VANOptions {
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{64, 128, 256, 512};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4, 4, 4, 4};
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 4, 6, 3};
  TORCH_ARG(int64_t, num_stages) = 4;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  /// eps of the stage-end LayerNorms; every official variant uses partial(nn.LayerNorm, eps=1e-6).
  TORCH_ARG(double, norm_eps) = 1e-5;
};

/// The official constructor arguments of VAN (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(VANOptions& o, V& v) {
  v.ignored("img_size", 224);
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dims", o.embed_dims());
  v.arg("mlp_ratios", o.mlp_ratios());
  v.arg("drop_rate", o.drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("depths", o.depths());
  v.arg("num_stages", o.num_stages());
  v.ignored("flag", false);
}

class VANImpl : public ClassifierImpl {
 public:
  explicit VANImpl(const VANOptions& options);

  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;

  VANOptions options;
  std::vector<modules::OverlapPatchEmbed> patch_embeds;
  std::vector<torch::nn::ModuleList> blocks;
  std::vector<torch::nn::LayerNorm> norms;

 private:
  // Runs stage i (0-based) on NCHW input; returns NCHW output after its LayerNorm.
  at::Tensor stage(int64_t i, const at::Tensor& x);
  at::Tensor in_layout(const at::Tensor& x) const;
};
TORCH_MODULE(VAN);

/// Parses official constructor arguments (embed_dims, mlp_ratios, depths, num_stages, in_chans,
/// num_classes, drop_rate, drop_path_rate, norm_layer / norm_eps; img_size and flag are accepted and
/// ignored as in the official code).
VANOptions van_options_from_args(const nlohmann::json& args);

}  // namespace attnzoo::models
