#pragma once
// MoH-TransNeXt (Jin et al., "MoH: Multi-Head Attention as Mixture-of-Head Attention", arXiv 2410.11842), official
// code SkyworkAI/MoH MoH-ViT/transnext.py `TransNeXt`: TransNeXt (Shi, CVPR 2024) whose attentions route heads per
// token. Four stages of overlapping patch embedding, TransNeXtBlocks (aggregated attention where sr_ratio > 1,
// global MoH attention in the last stage, convolutional GLU) and a LayerNorm; mean-pooled tokens -> head. Built for
// one input size (img_size), as the official model: its bias tables and padding masks are sized for it. Keys
// patch_embed{i}.*, block{i}.{j}.*, norm{i}.*, head (i = 1..4); the tables are not in the state_dict (official
// non-persistent buffers).
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/moh.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace attnzoo::models {

struct TransNeXtOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, pretrain_size) = 0;  // None: img_size
  /// Local window per stage; the last stage (sr_ratio 1, global attention) has none (None: 0 here).
  TORCH_ARG(std::vector<int64_t>, window_size) = std::vector<int64_t>{3, 3, 3, 0};
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{64, 128, 256, 512};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{1, 2, 4, 8};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{4, 4, 4, 4};
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;  // norm_layer: nn.LayerNorm (the variants: partial(nn.LayerNorm, eps=1e-6))
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 4, 6, 3};
  TORCH_ARG(std::vector<int64_t>, sr_ratios) = std::vector<int64_t>{8, 4, 2, 1};
  TORCH_ARG(int64_t, fixed_pool_size) = 0;  // None
  TORCH_ARG(std::vector<int64_t>, shared_head) = std::vector<int64_t>{1, 2, 4, 8};
  TORCH_ARG(std::vector<int64_t>, routed_head) = std::vector<int64_t>{0, 0, 0, 0};
  /// The weight of the mean load-balance loss of the routed blocks in training (engine.py: 0.01).
  TORCH_ARG(double, load_balance_weight) = 0.01;
};

/// [3, 3, 3, null] -> {3, 3, 3, 0}.
std::vector<int64_t> parse_window_sizes(const nlohmann::json& j);

template <class V>
void visit_args(TransNeXtOptions& o, V& v) {
  v.arg("img_size", o.img_size());
  v.nullable("pretrain_size", o.pretrain_size(), int64_t{0});
  v.parsed("window_size", o.window_size(), parse_window_sizes);
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dims", o.embed_dims());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratios", o.mlp_ratios());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("depths", o.depths());
  v.arg("sr_ratios", o.sr_ratios());
  v.fixed("num_stages", 4);
  v.nullable("fixed_pool_size", o.fixed_pool_size(), int64_t{0});
  v.arg("shared_head", o.shared_head());
  v.arg("routed_head", o.routed_head());
  v.arg("load_balance_weight", o.load_balance_weight());  // attnzoo: the training script's 0.01
}

class TransNeXtImpl : public ClassifierImpl {
 public:
  explicit TransNeXtImpl(const TransNeXtOptions& options);
  /// The last stage's normed map [B, C, H/32, W/32].
  at::Tensor forward_features(const at::Tensor& x) override;
  /// Mean over the positions -> head.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Each stage's normed output, NCHW.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override;
  /// load_balance_weight x the mean load-balance loss of the last training forward's routed blocks.
  at::Tensor auxiliary_loss() const override;

  TransNeXtOptions options;
  std::vector<modules::TransNeXtPatchEmbed> patch_embeds;
  std::vector<torch::nn::ModuleList> blocks;
  std::vector<torch::nn::LayerNorm> norms;

 private:
  at::Tensor run(const at::Tensor& x, StageSink sink);
  // Per stage: relative_pos_index{i}, relative_coords_table{i} (float32, as built by the official constructor).
  std::vector<at::Tensor> relative_pos_index_, relative_coords_table_;
};
TORCH_MODULE(TransNeXt);

}  // namespace attnzoo::models
