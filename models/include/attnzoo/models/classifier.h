#pragma once
// The interface every image classifier in the zoo offers (timm's model contract).
#include <attnzoo/checkpoint/tensor_dict.h>
#include <attnzoo/models/pretrained_cfg.h>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

namespace attnzoo::models {

struct FeatureInfo {
  int64_t num_chs;
  int64_t reduction;   // input stride of this feature map
  std::string module;  // official name of the module producing it
};

/// One entry of timm's `group_matcher(coarse=False)`, written on the official parameter names: a parameter whose
/// name `regex` matches at its start belongs to layer (ordinal, the regex's captured numbers..., suffix...); a
/// suffix of 99999 (timm's MATCH_PREV_GROUP) joins the layer before it. Ordinal 0 is the stem, 1 the blocks.
struct GroupMatch {
  int ordinal;
  std::string regex;
  std::vector<double> suffix;
};

/// Where a family's forward loop leaves its stage outputs: it collects them when asked to and says when the loop may
/// stop (timm's stop_early). A default sink collects nothing and never stops, so forward_features runs the plain loop.
class StageSink {
 public:
  StageSink() = default;
  /// Collects into `out`; stops after stage `last_stage` (never when last_stage < 0).
  StageSink(std::vector<at::Tensor>* out, int64_t last_stage) : out_(out), last_stage_(last_stage) {}
  /// Records the next stage's output; true when it was the last one wanted (the loop returns at once).
  bool add(const at::Tensor& stage_output) {
    if (!out_) return false;
    out_->push_back(stage_output);
    return last_stage_ >= 0 && static_cast<int64_t>(out_->size()) > last_stage_;
  }

 private:
  std::vector<at::Tensor>* out_ = nullptr;
  int64_t last_stage_ = -1;
};

class ClassifierImpl : public torch::nn::Module {
 public:
  /// Unpooled features of the last stage, final norm applied (NCHW for hierarchical models).
  virtual at::Tensor forward_features(const at::Tensor& x) = 0;
  /// Pooling (+ norm) + classifier; with pre_logits the pooled features [B, num_features].
  virtual at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) = 0;
  at::Tensor forward(const at::Tensor& x) { return forward_head(forward_features(x)); }
  /// The outputs of stages 0..last_stage (every stage when last_stage < 0) in the order of feature_info(), as the
  /// stages give them: NCHW maps, or tokens [B, prefix + H*W, C] for ViT-style families; without the final norm.
  /// Stops after `last_stage`: the later stages never run (timm's stop_early).
  virtual std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) = 0;
  /// Every stage output (forward_stages(x, -1)).
  std::vector<at::Tensor> forward_intermediates(const at::Tensor& x) { return forward_stages(x, -1); }
  /// forward_features from the last stage's output: the final norm (VOLO: the class-attention blocks, then the
  /// norm), so that forward_features(x) == finish_features(forward_stages(x, -1).back()). Identity by default.
  virtual at::Tensor finish_features(const at::Tensor& last_stage_output) { return last_stage_output; }
  /// The final features when stop_early ended the run after stage `stage` (< the last): timm's ViTs norm them, its
  /// hierarchical models return them as they are; by default norm_intermediate's rule.
  virtual at::Tensor finish_early(int64_t stage, const at::Tensor& output) { return norm_intermediate(stage, output); }
  /// True where timm's last feature is the finished last stage (ByobNet's final_conv), `norm` or not.
  virtual bool last_feature_finished() const { return false; }
  /// timm's `norm=True` on the output of stage `stage`: by default the final norm (finish_features) on the last
  /// stage only, as timm's hierarchical models do; ViT-style families override it to norm every block.
  virtual at::Tensor norm_intermediate(int64_t stage, const at::Tensor& output) {
    return stage + 1 == num_stages() ? finish_features(output) : output;
  }
  /// New classifier `head` (Linear num_features -> num_classes; 0 = none: forward returns the pooled
  /// features). Families whose official code initialises the head differently override and call this.
  virtual void reset_classifier(int64_t num_classes);
  /// timm's group_matcher for the family (layer-wise lr decay, `--layer-decay`), in timm's order; empty where timm
  /// has none, and layer decay then groups the parameters as timm's fallback does (auto_group_layers).
  virtual std::vector<GroupMatch> group_matcher() const { return {}; }
  /// Parameter names (or name suffixes) excluded from weight decay besides norms and biases.
  virtual std::vector<std::string> no_weight_decay() const { return {}; }
  virtual std::vector<FeatureInfo> feature_info() const = 0;
  int64_t num_stages() const { return static_cast<int64_t>(feature_info().size()); }
  /// A training loss term of the model's own to add to the task loss, from the last forward (MoH's head
  /// load balance); undefined when the family has none.
  virtual at::Tensor auxiliary_loss() const { return {}; }
  /// Maps other published layouts of this family's weights to the official key names (timm's
  /// checkpoint_filter_fn). Called by load_weights before matching keys; identity by default.
  virtual checkpoint::TensorDict filter_checkpoint(checkpoint::TensorDict weights) const { return weights; }
  /// The official-keyed `weights` in another published layout, for `attnzoo export --layout`: "official"
  /// (identity) for every family, "timm" where timm implements the family. Throws std::invalid_argument
  /// naming the layout otherwise.
  virtual checkpoint::TensorDict to_layout(checkpoint::TensorDict weights, const std::string& layout) const;

  int64_t num_classes() const { return num_classes_; }
  torch::nn::Linear head{nullptr};  // registered under head_name_ ("head", or "head.fc" for timm heads)
  int64_t num_features() const { return num_features_; }
  const PretrainedCfg& pretrained_cfg() const { return pretrained_cfg_; }
  void set_pretrained_cfg(PretrainedCfg cfg) { pretrained_cfg_ = std::move(cfg); }

 protected:
  /// pooled -> head(pooled), or pooled itself for pre_logits / no head.
  at::Tensor apply_head(const at::Tensor& pooled, bool pre_logits) { return pre_logits || !head ? pooled : head(pooled); }
  int64_t num_classes_ = 0;
  int64_t num_features_ = 0;
  /// Where the classifier Linear lives in the state_dict: "head" or "<container>.<leaf>" ("head.fc").
  std::string head_name_ = "head";
  PretrainedCfg pretrained_cfg_;
};

using ClassifierPtr = std::shared_ptr<ClassifierImpl>;

/// feature_info of a 4-stage hierarchical backbone (strides 4, 8, 16, 32): stage i has dims[i]
/// channels and is produced by module `prefix + (i + index_base)`.
std::vector<FeatureInfo> hierarchical_feature_info(const std::vector<int64_t>& dims, int64_t num_stages,
                                                   const std::string& prefix, int64_t index_base = 0);

}  // namespace attnzoo::models
