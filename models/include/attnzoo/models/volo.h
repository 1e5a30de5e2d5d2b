#pragma once
// VOLO, Vision Outlooker (Yuan et al., arXiv 2106.13112), official code sail-sg/volo models/volo.py `VOLO`
// (timm's volo.py has the same keys). Stage 1: Outlookers on the 1/8 map; Downsample; stage 2: Transformers on
// the 1/16 map with a learned position embedding; post network: two CaiT class blocks; norm; head (+ aux_head of
// token labelling: at inference logits = head(cls) + 0.5 * max over tokens of aux_head(token)). Keys pos_embed,
// cls_token, patch_embed.{conv.*, proj}, network.{i}.{j}.*, post_network.{i}.*, aux_head, norm, head.
// Token-labelling training (mix_token and its dense targets) is not ported: training runs the inference head.
#include <attnzoo/models/classifier.h>
#include <attnzoo/modules/volo.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>

#include <string>
#include <vector>

namespace attnzoo::models {

struct VOLOOptions {
  TORCH_ARG(std::vector<int64_t>, layers) = std::vector<int64_t>{4, 4, 8, 2};
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, patch_size) = 8;
  TORCH_ARG(int64_t, stem_hidden_dim) = 64;
  TORCH_ARG(std::vector<int64_t>, embed_dims) = std::vector<int64_t>{192, 384, 384, 384};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{6, 12, 12, 12};
  TORCH_ARG(std::vector<bool>, downsamples) = std::vector<bool>{true, false, false, false};
  TORCH_ARG(std::vector<bool>, outlook_attention) = std::vector<bool>{true, false, false, false};
  TORCH_ARG(std::vector<double>, mlp_ratios) = std::vector<double>{3, 3, 3, 3};
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  TORCH_ARG(double, drop_path_rate) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(std::vector<std::string>, post_layers) = std::vector<std::string>{"ca", "ca"};  // None: []
  TORCH_ARG(bool, return_mean) = false;
  TORCH_ARG(bool, return_dense) = true;
  TORCH_ARG(int64_t, pooling_scale) = 2;
  TORCH_ARG(int64_t, out_kernel) = 3;
  TORCH_ARG(int64_t, out_stride) = 2;
  TORCH_ARG(int64_t, out_padding) = 1;
};

template <class V>
void visit_args(VOLOOptions& o, V& v) {
  v.arg("layers", o.layers());
  v.arg("img_size", o.img_size());
  v.arg("in_chans", o.in_chans());
  v.arg("num_classes", o.num_classes());
  v.arg("patch_size", o.patch_size());
  v.arg("stem_hidden_dim", o.stem_hidden_dim());
  v.arg("embed_dims", o.embed_dims());
  v.arg("num_heads", o.num_heads());
  v.arg("downsamples", o.downsamples());
  v.arg("outlook_attention", o.outlook_attention());
  v.arg("mlp_ratios", o.mlp_ratios());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop_rate", o.drop_rate());
  v.arg("attn_drop_rate", o.attn_drop_rate());
  v.arg("drop_path_rate", o.drop_path_rate());
  v.norm_layer("norm_layer", o.norm_eps());
  v.nullable("post_layers", o.post_layers(), std::vector<std::string>{});
  v.arg("return_mean", o.return_mean());
  v.arg("return_dense", o.return_dense());
  v.ignored("mix_token", true);  // token-labelling training only (see above)
  v.arg("pooling_scale", o.pooling_scale());
  v.arg("out_kernel", o.out_kernel());
  v.arg("out_stride", o.out_stride());
  v.arg("out_padding", o.out_padding());
}

class VOLOImpl : public ClassifierImpl {
 public:
  explicit VOLOImpl(const VOLOOptions& options);
  /// Normed tokens [B, (1 +) N, C] (the class token first with a post network).
  at::Tensor forward_features(const at::Tensor& x) override;
  /// head(class token) (+ 0.5 * max_tokens aux_head(tokens) with return_dense), or head(mean) with return_mean.
  at::Tensor forward_head(const at::Tensor& x, bool pre_logits = false) override;
  /// Every stage's output map (NCHW), downsampling layers excluded.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, int64_t last_stage) override;
  at::Tensor finish_features(const at::Tensor& last_stage_output) override;
  at::Tensor norm_intermediate(int64_t stage, const at::Tensor& output) override;
  at::Tensor finish_early(int64_t stage, const at::Tensor& output) override;
  std::vector<FeatureInfo> feature_info() const override;
  std::vector<std::string> no_weight_decay() const override { return {"pos_embed", "cls_token"}; }
  /// timm's volo.py uses the official names: its layout is the official one.
  checkpoint::TensorDict to_layout(checkpoint::TensorDict weights, const std::string& layout) const override {
    return layout == "timm" ? weights : ClassifierImpl::to_layout(std::move(weights), layout);
  }
  std::vector<GroupMatch> group_matcher() const override {  // timm's volo.py (same names as the official code)
    return {{0, R"(^cls_token|pos_embed|patch_embed)", {}}, {1, R"(^network\.(\d+)\.(\d+))", {}},
            {1, R"(^network\.(\d+))", {0}},                {2, R"(^cls_token)", {0}},
            {2, R"(^post_network\.(\d+))", {}},             {2, R"(^norm)", {99999}}};
  }
  /// New head and aux_head (token labelling) for num_classes.
  void reset_classifier(int64_t num_classes) override;

  VOLOOptions options;
  at::Tensor pos_embed, cls_token;
  modules::VOLOPatchEmbed patch_embed{nullptr};
  torch::nn::Dropout pos_drop{nullptr};
  torch::nn::ModuleList network{nullptr}, post_network{nullptr};
  torch::nn::Linear aux_head{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  int64_t network_index(int64_t stage) const;  // stage -> its index in `network`
  at::Tensor tokens(const at::Tensor& x, StageSink sink);
};
TORCH_MODULE(VOLO);

}  // namespace attnzoo::models
