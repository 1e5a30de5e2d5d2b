#pragma once
// Agent Attention backbones (LeapLabTHU/Agent-Attention, agent_transformer/models; arXiv 2312.08874):
//  - AgentDeiT (agent_deit.py VisionTransformer): DeiT with AgentBlocks for the first agent_layer blocks.
//    Keys cls_token, pos_embed, patch_embed.proj, blocks.{i}.*, norm, head.
//  - AgentPVT (agent_pvt.py PyramidVisionTransformer): PVT v1 with agent ('A') or spatial-reduction ('B')
//    attention per stage. Keys pos_embed{1..4}, patch_embed{i}.{proj,norm}, block{i}.{j}.*, head.
//  - AgentSwin (agent_swin.py AgentSwinTransformer): Swin with agent ('A') or window ('B') attention per
//    stage ('M<n>': first n blocks A). Keys patch_embed.*, layers.{i}.blocks.{j}.*, layers.{i}.downsample.*,
//    norm, head.
// All three are built for one input size (their bias grids and position embeddings are sized for it).
#include <attnzoo/models/classifier.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnzoo::models {

struct AgentModelOptions {
  TORCH_ARG(std::string, arch) = "deit";  // "deit", "pvt", "swin"
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{192};  // deit: one value; swin: embed_dim
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{12};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4.0};
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-6;  // blocks' LayerNorm (deit, pvt: partial(nn.LayerNorm, eps=1e-6))
  TORCH_ARG(std::vector<int64_t>, agent_num) = std::vector<int64_t>{49, 49, 49, 49};
  TORCH_ARG(int64_t, agent_layer) = -1;                // deit: blocks [0, agent_layer) are agent blocks
  TORCH_ARG(std::string, attn_type) = "AAAA";         // pvt, swin
  TORCH_ARG(std::vector<int64_t>, sr_ratios) = std::vector<int64_t>{8, 4, 2, 1};  // pvt 'B' stages
  TORCH_ARG(std::string, agent_sr_ratios) = "1111";   // pvt 'A' stages
  TORCH_ARG(int64_t, window_size) = 7;                // swin
  TORCH_ARG(bool, patch_norm) = true;                 // swin
};

class AgentModelImpl : public ClassifierImpl {
 public:
  explicit AgentModelImpl(const AgentModelOptions& options);
  /// deit: normed tokens [B, 1 + N, C]; pvt: last stage map [B, C, H, W]; swin: normed map [B, C, H, W].
  at::Tensor forward_features(const at::Tensor& x) override;
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// deit: every block's tokens; pvt / swin: each stage's last block output, NCHW.
  std::vector<at::Tensor> forward_intermediates(const at::Tensor& x) override;
  void reset_classifier(int64_t num_classes) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override;

  AgentModelOptions options;

 private:
  at::Tensor run(const at::Tensor& x, std::vector<at::Tensor>* feats);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};
TORCH_MODULE(AgentModel);

}  // namespace attnzoo::models
