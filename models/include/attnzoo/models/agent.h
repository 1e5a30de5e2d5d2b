#pragma once
// Agent Attention backbones (LeapLabTHU/Agent-Attention, agent_transformer/models; arXiv 2312.08874), one
// class per official class:
//  - AgentDeiT (agent_deit.py VisionTransformer): DeiT with AgentBlocks for the first agent_layer blocks.
//    Keys cls_token, pos_embed, patch_embed.proj, blocks.{i}.*, norm, head.
//  - AgentPVT (agent_pvt.py PyramidVisionTransformer): PVT v1 with agent ('A') or spatial-reduction ('B')
//    attention per stage. Keys pos_embed{1..4}, patch_embed{i}.{proj,norm}, block{i}.{j}.*, head.
//  - AgentSwin (agent_swin.py AgentSwinTransformer): Swin with agent ('A') or window ('B') attention per
//    stage ('M<n>': first n blocks A). Keys patch_embed.*, layers.{i}.blocks.{j}.*, layers.{i}.downsample.*,
//    norm, head.
// All three are built for one input size (their bias grids and position embeddings are sized for it).
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/patch_embed.h>

#include <nlohmann/json.hpp>
#include <torch/arg.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <vector>

namespace attnzoo::models {

/// Integer lists as the official configs spell them: a list of numbers or numeric strings
/// ("9-16-49-49".split('-')), a "1-2-7-7" string, or one number.
std::vector<int64_t> parse_int_list(const nlohmann::json& j);

/// The arguments the three classes share (any Options with these fields).
template <class Options, class V>
void visit_agent_common_args(Options& o, V& v) {
  v.arg("img_size", o.img_size());
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.parsed("agent_num", o.agent_num(), parse_int_list);
}

struct AgentDeiTOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 768;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-6;  // norm_layer None: partial(nn.LayerNorm, eps=1e-6)
  TORCH_ARG(std::vector<int64_t>, agent_num) = std::vector<int64_t>{49, 49, 49, 49};  // per stage of 2-4 blocks
  TORCH_ARG(int64_t, agent_layer) = -1;  // blocks [0, agent_layer) are agent blocks; -1: all
};

template <class V>
void visit_args(AgentDeiTOptions& o, V& v) {
  visit_agent_common_args(o, v);
  v.arg("embed_dim", o.embed_dim());
  v.arg("depth", o.depth());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.fixed("representation_size", nullptr);
  v.fixed("distilled", false);
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("agent_layer", o.agent_layer());
}

struct AgentPVTOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{64, 128, 256, 512};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{1, 2, 4, 8};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4, 4, 4, 4};
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 4, 6, 3};
  TORCH_ARG(int64_t, num_stages) = 4;  // must be len(embed_dims)
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(std::vector<int64_t>, sr_ratios) = std::vector<int64_t>{8, 4, 2, 1};  // 'B' stages
  TORCH_ARG(std::string, agent_sr_ratios) = "1111";                               // 'A' stages, one digit each
  TORCH_ARG(std::vector<int64_t>, agent_num) = std::vector<int64_t>{9, 16, 49, 49};
  TORCH_ARG(std::string, attn_type) = "AAAA";
};

template <class V>
void visit_args(AgentPVTOptions& o, V& v) {
  visit_agent_common_args(o, v);
  v.arg("embed_dims", o.embed_dims());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratios", o.mlp_ratios());
  v.arg("depths", o.depths());
  v.arg("num_stages", o.num_stages());
  v.fixed("qk_scale", nullptr);
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("sr_ratios", o.sr_ratios());
  v.parsed("agent_sr_ratios", o.agent_sr_ratios(),
           [](const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : std::to_string(j.get<int64_t>()); });
  v.arg("attn_type", o.attn_type());
}

struct AgentSwinOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 96;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3, 6, 12, 24};
  TORCH_ARG(int64_t, window_size) = 7;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.1;
  TORCH_ARG(bool, patch_norm) = true;
  TORCH_ARG(std::vector<int64_t>, agent_num) = std::vector<int64_t>{9, 16, 49, 49};
  TORCH_ARG(std::string, attn_type) = "BBBB";
};

template <class V>
void visit_args(AgentSwinOptions& o, V& v) {
  visit_agent_common_args(o, v);
  v.arg("embed_dim", o.embed_dim());
  v.arg("depths", o.depths());
  v.arg("num_heads", o.num_heads());
  v.arg("window_size", o.window_size());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.fixed("qk_scale", nullptr);
  v.fixed_norm_layer("norm_layer", 1e-5);
  v.fixed("ape", false);  // absolute position embedding: not ported
  v.arg("patch_norm", o.patch_norm());
  v.ignored("use_checkpoint", false);  // memory only
  v.arg("attn_type", o.attn_type());
}

/// The head init the three classes share (trunc_normal .02, bias 0) after timm's reset.
class AgentClassifierImpl : public ClassifierImpl {
 public:
  void reset_classifier(int64_t num_classes) override;

 protected:
  virtual void set_num_classes(int64_t num_classes) = 0;
};

class AgentDeiTImpl : public AgentClassifierImpl {
 public:
  explicit AgentDeiTImpl(const AgentDeiTOptions& options);
  /// Normed tokens [B, 1 + N, C].
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Every block's tokens.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  at::Tensor norm_intermediate(int64_t stage, const at::Tensor& output) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }

  AgentDeiTOptions options;
  modules::PatchEmbed patch_embed{nullptr};
  at::Tensor cls_token, pos_embed;
  torch::nn::LayerNorm norm{nullptr};

 protected:
  void set_num_classes(int64_t n) override { options.num_classes(n); }

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  struct Blocks;
  std::shared_ptr<Blocks> blocks_;
};
TORCH_MODULE(AgentDeiT);

class AgentPVTImpl : public AgentClassifierImpl {
 public:
  explicit AgentPVTImpl(const AgentPVTOptions& options);
  /// The last stage's map [B, C, H, W].
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Each stage's output, NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  std::vector<FeatureInfo> feature_info() const override;

  AgentPVTOptions options;
  std::vector<modules::PatchEmbed> patch_embeds;
  std::vector<at::Tensor> pos_embeds;

 protected:
  void set_num_classes(int64_t n) override { options.num_classes(n); }

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  std::vector<int64_t> stage_sides_;  // the side each pos_embed{i} was built for
  struct Blocks;
  std::shared_ptr<Blocks> blocks_;
};
TORCH_MODULE(AgentPVT);

class AgentSwinImpl : public AgentClassifierImpl {
 public:
  explicit AgentSwinImpl(const AgentSwinOptions& options);
  /// The normed last map [B, C, H, W].
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Each stage's last block output, NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override { return {"relative_position_bias_table"}; }

  AgentSwinOptions options;
  modules::PatchEmbed patch_embed{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 protected:
  void set_num_classes(int64_t n) override { options.num_classes(n); }

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  std::vector<int64_t> sides_;  // stage resolutions
  struct Blocks;
  std::shared_ptr<Blocks> blocks_;
};
TORCH_MODULE(AgentSwin);

}  // namespace attnzoo::models
