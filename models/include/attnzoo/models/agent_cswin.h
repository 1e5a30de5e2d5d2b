#pragma once
// Agent-CSWin (LeapLabTHU/Agent-Attention agent_transformer/models/agent_cswin.py CSWinTransformer; arXiv
// 2312.08874 on CSWin, arXiv 2107.00652): a 7x7 stride-4 conv stem, four stages of CSWin blocks (two
// cross-shaped stripe branches on half the channels each, or one branch over the whole map where the
// stripe is the map, i.e. the last stage) joined by stride-2 3x3 conv merges; attn_type picks agent ('A',
// stripes of la_split_size) or LePE softmax ('B', stripes of split_size) attention per stage ('M<n>': the
// first n blocks 'A'). Built for one input size. Keys stage1_conv_embed.{0,2}, stage{i}.{j}.{qkv, norm1,
// proj, attns.{k}.*, mlp.fc1, mlp.fc2, norm2}, merge{i}.{conv, norm}, norm, head.
#include <attnzoo/models/agent.h>
#include <attnzoo/models/classifier.h>

#include <string>
#include <vector>

namespace attnzoo::models {

struct AgentCSWinOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 96;
  TORCH_ARG(std::vector<int64_t>, depth) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, split_size) = std::vector<int64_t>{1, 2, 7, 7};     // 'B' stripes
  TORCH_ARG(std::vector<int64_t>, la_split_size) = std::vector<int64_t>{1, 2, 7, 7};  // 'A' stripes
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{2, 4, 8, 16};
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(std::vector<int64_t>, agent_num) = std::vector<int64_t>{49, 49, 49, 49};
  TORCH_ARG(std::string, attn_type) = "AAAA";
};

template <class V>
void visit_args(AgentCSWinOptions& o, V& v) {
  v.arg("img_size", o.img_size());
  v.ignored("patch_size", 16);  // the stem is a fixed 7x7 stride-4 conv (unused upstream too)
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("depth", o.depth());
  v.arg("split_size", o.split_size());
  v.parsed("la_split_size", o.la_split_size(), parse_int_list);  // "56-28-14-7"
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.fixed("qk_scale", nullptr);
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.fixed("hybrid_backbone", nullptr);
  v.fixed_norm_layer("norm_layer", 1e-5);
  v.ignored("use_chk", false);  // memory only
  v.parsed("agent_num", o.agent_num(), [](const nlohmann::json& j) {
    std::vector<int64_t> a = parse_int_list(j);
    if (a.size() == 1) a.assign(4, a[0]);  // one number for every stage (the constructor default 49)
    return a;
  });
  v.arg("attn_type", o.attn_type());
}

class AgentCSWinImpl : public ClassifierImpl {
 public:
  explicit AgentCSWinImpl(const AgentCSWinOptions& options);
  /// The normed last-stage map [B, C, H, W].
  at::Tensor forward_features(const at::Tensor& x) override;
  /// Mean over the tokens, then head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Each stage's last block output, NCHW (before the merge; the last one before the final norm).
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;

  AgentCSWinOptions options;

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};
TORCH_MODULE(AgentCSWin);

}  // namespace attnzoo::models
