#include <attnzoo/models/biformer.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

namespace attnzoo::models {

namespace nn = torch::nn;

BiFormerImpl::BiFormerImpl(const BiFormerOptions& o) : options(o) {
  const auto& E = o.embed_dim();
  auto need4 = [](size_t n, const char* what) { TORCH_CHECK(n == 4, "BiFormer: ", what, " needs 4 entries, got ", n); };
  need4(o.depth().size(), "depth");
  need4(E.size(), "embed_dim");
  need4(o.topks().size(), "topks");
  need4(o.kv_per_wins().size(), "kv_per_wins");
  need4(o.kv_downsample_ratios().size(), "kv_downsample_ratios");
  need4(o.mlp_ratios().size(), "mlp_ratios");
  TORCH_CHECK(o.qk_dims().size() == 4, "BiFormer: qk_dims must be given (4 entries); the heads are qk_dims[i] / head_dim");
  // Stem: conv3x3 s2 -> BN -> GELU -> conv3x3 s2 -> BN; then conv3x3 s2 -> BN per stage.
  auto conv = [](int64_t i, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(i, out, 3).stride(2).padding(1)); };
  downsample_layers->push_back(nn::Sequential(conv(o.in_chans(), E[0] / 2), modules::BatchNorm2d(E[0] / 2), nn::GELU(),
                                              conv(E[0] / 2, E[0]), modules::BatchNorm2d(E[0])));
  for (int i = 0; i < 3; ++i) downsample_layers->push_back(nn::Sequential(conv(E[i], E[i + 1]), modules::BatchNorm2d(E[i + 1])));
  register_module("downsample_layers", downsample_layers);
  const auto rates = modules::drop_path_rates(o.drop_path_rate(), o.depth());
  for (int i = 0; i < 4; ++i) {
    nn::Sequential stage;
    for (int64_t j = 0; j < o.depth()[i]; ++j) {
      const double dpr = rates[i][j];
      stage->push_back(modules::BiFormerBlock(modules::BiFormerBlockOptions(E[i])
                                                  .drop_path(dpr)
                                                  .layer_scale_init_value(o.layer_scale_init_value())
                                                  .topk(o.topks()[i])
                                                  .num_heads(o.qk_dims()[i] / o.head_dim())
                                                  .n_win(o.n_win())
                                                  .qk_dim(o.qk_dims()[i])
                                                  .qk_scale(o.qk_scale())
                                                  .kv_per_win(o.kv_per_wins()[i])
                                                  .kv_downsample_ratio(o.kv_downsample_ratios()[i])
                                                  .kv_downsample_mode(o.kv_downsample_mode())
                                                  .param_attention(o.param_attention())
                                                  .param_routing(o.param_routing())
                                                  .diff_routing(o.diff_routing())
                                                  .soft_routing(o.soft_routing())
                                                  .mlp_ratio(o.mlp_ratios()[i])
                                                  .mlp_dwconv(o.mlp_dwconv())
                                                  .side_dwconv(o.side_dwconv())
                                                  .before_attn_dwconv(o.before_attn_dwconv())
                                                  .pre_norm(o.pre_norm())
                                                  .auto_pad(o.auto_pad())));
    }
    stages->push_back(stage);
  }
  register_module("stages", stages);
  norm = register_module("norm", modules::BatchNorm2d(E[3]));
  num_features_ = E[3];
  reset_classifier(o.num_classes());
  // Official init: Linear trunc_normal(.02) / bias 0, LayerNorm 1/0; convs and BatchNorm keep defaults.
  modules::init_vit_weights(*this);
}

std::vector<at::Tensor> BiFormerImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "BiFormer: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  std::vector<at::Tensor> out;
  StageSink sink(&out, last_stage);
  at::Tensor y = x;
  for (size_t i = 0; i < 4; ++i) {
    y = downsample_layers[i]->as<nn::Sequential>()->forward(y);
    y = stages[i]->as<nn::Sequential>()->forward(y);
    if (sink.add(y)) break;
  }
  return out;
}

at::Tensor BiFormerImpl::forward_features(const at::Tensor& x) { return finish_features(forward_stages(x, -1).back()); }

at::Tensor BiFormerImpl::finish_features(const at::Tensor& last_stage_output) { return norm(last_stage_output); }

at::Tensor BiFormerImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  at::Tensor pooled = x.flatten(2).mean(-1);
  return apply_head(pooled, pre_logits);
}

void BiFormerImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> BiFormerImpl::feature_info() const {
  return hierarchical_feature_info(options.embed_dim(), 4, "stages.");
}

BiFormerOptions biformer_options_from_args(const nlohmann::json& args) {
  return options_from_args<BiFormerOptions>(args, "biformer");
}

void register_biformer(Registry& r) {
  // The authors evaluate with the DeiT pipeline (resize 256, center crop 224, ImageNet mean/std).
  PretrainedCfg cfg;
  cfg.first_conv = "downsample_layers.0.0";
  cfg.classifier = "head";
  cfg.paper = "arXiv:2303.08810";
  r.add_family(family_of<BiFormer, BiFormerOptions>("biformer", "BiFormer, bi-level routing attention (Zhu et al. CVPR 2023, arXiv 2303.08810)", cfg));
  struct V {
    const char* name;
    std::vector<int64_t> depth, dims;
    const char* share;  // models/biformer.py's model_urls (OneDrive; MIT), saved as <name>_in1k.pth by torch.hub
    double top1;
  };
  for (const auto& v : {V{"biformer_tiny", {2, 2, 8, 2}, {64, 128, 256, 512}, "s!AkBbczdRlZvChHEOoGkgwgQzEDlM", 81.4},
                        V{"biformer_small", {4, 4, 18, 4}, {64, 128, 256, 512}, "s!AkBbczdRlZvChHDyM-x9KWRBZ832", 83.8},
                        V{"biformer_base", {4, 4, 18, 4}, {96, 192, 384, 768}, "s!AkBbczdRlZvChHI_XPhoadjaNxtO", 84.3}}) {
    ModelVariant mv;
    mv.name = v.name;
    mv.family = "biformer";
    mv.args = {{"depth", v.depth},           {"embed_dim", v.dims},     {"mlp_ratios", {3, 3, 3, 3}},
               {"n_win", 7},                 {"kv_downsample_mode", "identity"}, {"kv_per_wins", {-1, -1, -1, -1}},
               {"topks", {1, 4, 16, -2}},    {"side_dwconv", 5},        {"before_attn_dwconv", 3},
               {"layer_scale_init_value", -1}, {"qk_dims", v.dims},     {"head_dim", 32},
               {"param_routing", false},     {"diff_routing", false},   {"soft_routing", false},
               {"pre_norm", true},           {"pe", nullptr}};
    mv.pretrained = cfg;
    mv.pretrained.weights(std::string("https://api.onedrive.com/v1.0/shares/") + v.share + "/root/content", v.top1, "MIT",
                          std::string(v.name) + "_in1k.pth");
    r.add_variant(mv);
  }
}

}  // namespace attnzoo::models
