#pragma once
// UniRepLKNet (Ding et al., CVPR 2024, arXiv 2311.15599), official code AILab-CVC/UniRepLKNet unireplknet.py
// `UniRepLKNet`: a ConvNeXt-style 4-stage ConvNet whose blocks use large depthwise kernels built from dilated
// re-parameterisable branches. reparameterize_unireplknet() converts a trained model into the deploy form (same
// outputs; the keys of `deploy: true`). Keys downsample_layers.{i}.*, stages.{i}.{j}.*, norm, head.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/unireplknet.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace attnzoo::models {

struct UniRepLKNetOptions {
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 3, 27, 3};
  TORCH_ARG(std::vector<int64_t>, dims) = std::vector<int64_t>{96, 192, 384, 768};
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, layer_scale_init_value) = 1e-6;
  TORCH_ARG(double, head_init_scale) = 1.0;
  /// One kernel size per block (0: no depthwise conv); empty (None): the official defaults for these depths.
  TORCH_ARG(std::vector<std::vector<int64_t>>, kernel_sizes) = std::vector<std::vector<int64_t>>{};
  TORCH_ARG(bool, deploy) = false;
};

template <class V>
void visit_args(UniRepLKNetOptions& o, V& v) {
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("depths", o.depths());
  v.arg("dims", o.dims());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.nullable("layer_scale_init_value", o.layer_scale_init_value(), 0.0);
  v.arg("head_init_scale", o.head_init_scale());
  v.nullable("kernel_sizes", o.kernel_sizes(), std::vector<std::vector<int64_t>>{});
  v.arg("deploy", o.deploy());
  v.ignored("with_cp", false);  // activation checkpointing: memory only
  v.fixed("init_cfg", nullptr);  // the OpenMMLab backbone mode is not ported
  v.ignored("attempt_use_lk_impl", true);
  v.fixed("use_sync_bn", false);
}

/// The official default kernel sizes for these depths (A/F/P, N, T, S/B/L/XL); throws for others.
std::vector<std::vector<int64_t>> unireplknet_default_kernel_sizes(const std::vector<int64_t>& depths);

class UniRepLKNetImpl : public ClassifierImpl {
 public:
  explicit UniRepLKNetImpl(const UniRepLKNetOptions& options);
  /// The last stage's map [B, C, H/32, W/32].
  at::Tensor forward_features(const at::Tensor& x) override;
  /// norm(mean over H, W) -> head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Each stage's output, NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  std::vector<FeatureInfo> feature_info() const override;
  void reset_classifier(int64_t num_classes) override;
  /// Every block's reparameterize(): the deploy form with the same (eval-mode) outputs.
  void reparameterize_unireplknet();

  UniRepLKNetOptions options;
  torch::nn::ModuleList downsample_layers{nullptr}, stages{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
};
TORCH_MODULE(UniRepLKNet);

}  // namespace attnzoo::models
