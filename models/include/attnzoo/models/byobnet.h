#pragma once
// HaloNet and the other self-attention hybrids of timm's ByobNet ("bring your own blocks"; byobnet.py /
// byoanet.py). The paper (Vaswani et al., arXiv 2103.12731) released no code; timm's implementation and
// weights are the reference. The model is configured by timm's ByoModelCfg (same field names, JSON),
// state_dict keys are timm's (stem.*, stages.{s}.{b}.*, final_conv.*, head.fc.*).
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/byobnet.h>

#include <nlohmann/json.hpp>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

#include <optional>
#include <string>
#include <vector>

namespace attnzoo::models {

/// timm ByoBlockCfg: one block config (repeated d times). Unset per-block overrides are JSON null.
struct ByoBlockCfg {
  std::string type;  // "bottle", "basic", "self_attn"
  int64_t d = 1;     // repeats
  int64_t c = 0;     // output channels
  int64_t s = 2;     // stride of the first block
  int64_t gs = 0;    // group size (0 / None: one group)
  double br = 1.0;   // bottleneck ratio
  nlohmann::json attn_layer, attn_kwargs, self_attn_layer, self_attn_kwargs, block_kwargs;  // null = model's
};

/// timm ByoModelCfg (the fields ByobNet reads). `blocks` holds one list of block configs per stage.
struct ByoModelCfg {
  std::vector<std::vector<ByoBlockCfg>> blocks;
  std::string downsample = "conv1x1";
  std::string stem_type = "3x3";
  std::string stem_pool = "maxpool";
  std::vector<int64_t> stem_chs{32};  // one value, or the per-conv list when stem_chs_is_list
  bool stem_chs_is_list = false;
  double width_factor = 1.0;
  int64_t num_features = 0;
  bool zero_init_last = true;
  bool fixed_input_size = false;
  std::string act_layer = "relu";
  std::string norm_layer = "batchnorm";
  std::string aa_layer;
  std::string head_type = "classifier";
  std::string attn_layer;
  nlohmann::json attn_kwargs = nlohmann::json::object();
  std::string self_attn_layer;
  nlohmann::json self_attn_kwargs = nlohmann::json::object();
  nlohmann::json block_kwargs = nlohmann::json::object();

  /// Parses the JSON form (as timm's dataclasses.asdict writes it; a stage is a block dict or a list of
  /// them). Unknown fields and unsupported values throw std::invalid_argument naming the field.
  static ByoModelCfg from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

/// timm interleave_blocks(types, d, every, first, **kwargs): d single blocks, block i of types[1] iff
/// i is in `every` (an int n means range(first ? 0 : n, d, n + 1); empty means {d - 1}).
nlohmann::json interleave_blocks(const std::string& type0, const std::string& type1, int64_t d,
                                 const nlohmann::json& every, const nlohmann::json& kwargs, bool first = false);

struct ByobNetOptions {
  TORCH_ARG(ByoModelCfg, cfg);
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(std::vector<int64_t>, img_size) = std::vector<int64_t>{};  // needed by fixed-size attention
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(bool, zero_init_last) = true;
};

class ByobNetImpl : public ClassifierImpl {
 public:
  /// timm's layout is the official one.
  checkpoint::TensorDict to_layout(checkpoint::TensorDict weights, const std::string& layout) const override {
    return layout == "timm" ? weights : ClassifierImpl::to_layout(std::move(weights), layout);
  }
  explicit ByobNetImpl(const ByobNetOptions& options);

  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Stage outputs (before final_conv), NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  /// timm's byobnet takes its last feature after final_conv (exclude_final_conv=False).
  bool last_feature_finished() const override { return true; }
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<GroupMatch> group_matcher() const override {  // timm's byobnet.py
    return {{0, R"(^stem)", {}}, {1, R"(^stages\.(\d+)\.(\d+))", {}}, {1, R"(^final_conv)", {99999}}};
  }

  ByobNetOptions options;
  torch::nn::AnyModule stem;
  torch::nn::ModuleList stages{nullptr};
  std::vector<std::vector<std::shared_ptr<modules::ByobBlockBase>>> blocks;  // [stage][block]
  modules::ConvNormAct final_conv{nullptr};

 private:
  at::Tensor run_stem(const at::Tensor& x);
  std::vector<FeatureInfo> feature_info_;
};
TORCH_MODULE(ByobNet);

/// The ByoModelCfg fields that may also be given at top level, where they overlay cfg (timm's
/// `replace(cfg, **kwargs)`).
const std::vector<std::string>& byo_model_cfg_overlay_fields();

/// Parses the family arguments: cfg (ByoModelCfg JSON) plus ByobNet's constructor arguments, and any
/// ByoModelCfg field given at top level overlays cfg.
ByobNetOptions byobnet_options_from_args(const nlohmann::json& args);

}  // namespace attnzoo::models
