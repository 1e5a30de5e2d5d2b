#include <attnzoo/models/biformer.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/args.h>
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
  downsample_layers->push_back(nn::Sequential(conv(o.in_chans(), E[0] / 2), nn::BatchNorm2d(E[0] / 2), nn::GELU(),
                                              conv(E[0] / 2, E[0]), nn::BatchNorm2d(E[0])));
  for (int i = 0; i < 3; ++i) downsample_layers->push_back(nn::Sequential(conv(E[i], E[i + 1]), nn::BatchNorm2d(E[i + 1])));
  register_module("downsample_layers", downsample_layers);
  int64_t total = 0;
  for (auto d : o.depth()) total += d;
  int64_t cur = 0;
  for (int i = 0; i < 4; ++i) {
    nn::Sequential stage;
    for (int64_t j = 0; j < o.depth()[i]; ++j) {
      const double dpr = total > 1 ? o.drop_path_rate() * static_cast<double>(cur + j) / static_cast<double>(total - 1) : 0.0;
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
    cur += o.depth()[i];
    stages->push_back(stage);
  }
  register_module("stages", stages);
  norm = register_module("norm", nn::BatchNorm2d(E[3]));
  num_features_ = E[3];
  reset_classifier(o.num_classes());
  // Official init: Linear trunc_normal(.02) / bias 0, LayerNorm 1/0; convs and BatchNorm keep defaults.
  modules::init_vit_weights(*this);
}

std::vector<at::Tensor> BiFormerImpl::forward_intermediates(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "BiFormer: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  std::vector<at::Tensor> out;
  at::Tensor y = x;
  for (size_t i = 0; i < 4; ++i) {
    y = downsample_layers[i]->as<nn::Sequential>()->forward(y);
    y = stages[i]->as<nn::Sequential>()->forward(y);
    out.push_back(y);
  }
  return out;
}

at::Tensor BiFormerImpl::forward_features(const at::Tensor& x) { return norm(forward_intermediates(x).back()); }

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
  ArgReader a(args, "biformer");
  BiFormerOptions o;
  o.depth(a.get("depth", o.depth()))
      .in_chans(a.get("in_chans", o.in_chans()))
      .num_classes(a.get("num_classes", o.num_classes()))
      .embed_dim(a.get("embed_dim", o.embed_dim()))
      .head_dim(a.get("head_dim", o.head_dim()))
      .qk_scale(a.get("qk_scale", o.qk_scale()))
      .drop_path_rate(a.get("drop_path_rate", o.drop_path_rate()))
      .n_win(a.get("n_win", o.n_win()))
      .kv_downsample_mode(a.get("kv_downsample_mode", o.kv_downsample_mode()))
      .kv_per_wins(a.get("kv_per_wins", o.kv_per_wins()))
      .topks(a.get("topks", o.topks()))
      .side_dwconv(a.get("side_dwconv", o.side_dwconv()))
      .layer_scale_init_value(a.get("layer_scale_init_value", o.layer_scale_init_value()))
      .param_routing(a.get("param_routing", o.param_routing()))
      .diff_routing(a.get("diff_routing", o.diff_routing()))
      .soft_routing(a.get("soft_routing", o.soft_routing()))
      .pre_norm(a.get("pre_norm", o.pre_norm()))
      .before_attn_dwconv(a.get("before_attn_dwconv", o.before_attn_dwconv()))
      .auto_pad(a.get("auto_pad", o.auto_pad()))
      .kv_downsample_ratios(a.get("kv_downsample_ratios", o.kv_downsample_ratios()))
      .mlp_ratios(a.get("mlp_ratios", o.mlp_ratios()))
      .param_attention(a.get("param_attention", o.param_attention()))
      .mlp_dwconv(a.get("mlp_dwconv", o.mlp_dwconv()));
  // qk_dims: the official default is [None]*4, which the constructor cannot use (heads = qk_dim // head_dim).
  const auto qk = a.get("qk_dims", nlohmann::json::array());
  std::vector<int64_t> qk_dims;
  for (const auto& v : qk) {
    if (v.is_null()) throw std::invalid_argument("biformer: qk_dims entries must be integers (the official code needs them)");
    qk_dims.push_back(v.get<int64_t>());
  }
  o.qk_dims(qk_dims);
  if (a.has("representation_size") && !args.at("representation_size").is_null())
    throw std::invalid_argument("biformer: representation_size is not supported (no official variant uses it)");
  if (a.has("pe") && !args.at("pe").is_null()) throw std::invalid_argument("biformer: pe must be null (as in every official variant)");
  // Accepted and without effect here, as in the official forward: drop_rate is never used, gradient
  // checkpointing changes memory only, kv_downsample_kernels is unused by the legacy BRA, pe_stages needs pe.
  for (const char* k : {"representation_size", "pe", "drop_rate", "use_checkpoint_stages", "kv_downsample_kernels", "pe_stages"})
    a.ignore(k);
  a.finish();
  return o;
}

void register_biformer(Registry& r) {
  const BiFormerOptions d;
  ModelFamily fam;
  fam.name = "biformer";
  fam.description = "BiFormer, bi-level routing attention (Zhu et al. CVPR 2023, arXiv 2303.08810)";
  fam.default_args = {{"depth", d.depth()},
                      {"in_chans", d.in_chans()},
                      {"num_classes", d.num_classes()},
                      {"embed_dim", d.embed_dim()},
                      {"head_dim", d.head_dim()},
                      {"qk_scale", nullptr},
                      {"representation_size", nullptr},
                      {"drop_path_rate", d.drop_path_rate()},
                      {"drop_rate", 0.0},
                      {"use_checkpoint_stages", nlohmann::json::array()},
                      {"n_win", d.n_win()},
                      {"kv_downsample_mode", d.kv_downsample_mode()},
                      {"kv_per_wins", d.kv_per_wins()},
                      {"topks", d.topks()},
                      {"side_dwconv", d.side_dwconv()},
                      {"layer_scale_init_value", d.layer_scale_init_value()},
                      {"qk_dims", {nullptr, nullptr, nullptr, nullptr}},
                      {"param_routing", false},
                      {"diff_routing", false},
                      {"soft_routing", false},
                      {"pre_norm", true},
                      {"pe", nullptr},
                      {"pe_stages", {0}},
                      {"before_attn_dwconv", d.before_attn_dwconv()},
                      {"auto_pad", false},
                      {"kv_downsample_kernels", {4, 2, 1, 1}},
                      {"kv_downsample_ratios", d.kv_downsample_ratios()},
                      {"mlp_ratios", d.mlp_ratios()},
                      {"param_attention", d.param_attention()},
                      {"mlp_dwconv", false}};
  fam.build = [](const nlohmann::json& args) -> ClassifierPtr { return BiFormer(biformer_options_from_args(args)).ptr(); };
  // The authors evaluate with the DeiT pipeline (resize 256, center crop 224, ImageNet mean/std).
  PretrainedCfg cfg;
  cfg.first_conv = "downsample_layers.0.0";
  cfg.classifier = "head";
  cfg.paper = "arXiv:2303.08810";
  fam.pretrained = cfg;
  r.add_family(fam);
  struct V {
    const char* name;
    std::vector<int64_t> depth, dims;
  };
  for (const auto& v : {V{"biformer_tiny", {2, 2, 8, 2}, {64, 128, 256, 512}}, V{"biformer_small", {4, 4, 18, 4}, {64, 128, 256, 512}},
                        V{"biformer_base", {4, 4, 18, 4}, {96, 192, 384, 768}}}) {
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
    r.add_variant(mv);
  }
}

}  // namespace attnzoo::models
