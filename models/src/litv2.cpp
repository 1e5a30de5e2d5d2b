#include <attnzoo/models/litv2.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

namespace attnzoo::models {

namespace nn = torch::nn;

LITv2Impl::LITv2Impl(const LITv2Options& o) : options(o) {
  const size_t S = o.depths().size();
  TORCH_CHECK(o.num_heads().size() == S && o.has_msa().size() == S && o.local_ws().size() == S,
              "LITv2: depths, num_heads, has_msa and local_ws need the same number of stages");
  patch_embed = register_module("patch_embed", modules::PatchEmbed(modules::PatchEmbedOptions(o.img_size(), o.patch_size(),
                                                                                               o.in_chans(), o.embed_dim())
                                                                       .norm(true)));
  int64_t total = 0;
  for (auto d : o.depths()) total += d;
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), total);
  int64_t cur = 0;
  for (size_t i = 0; i < S; ++i) {
    const int64_t dim = o.embed_dim() << i;
    nn::ModuleList blocks;
    for (int64_t j = 0; j < o.depths()[i]; ++j, ++cur) {
      const double dpr = rates[static_cast<size_t>(cur)];
      blocks->push_back(modules::LITBlock(modules::LITBlockOptions(dim, o.num_heads()[i])
                                              .mlp_ratio(o.mlp_ratio())
                                              .qkv_bias(o.qkv_bias())
                                              .qk_scale(o.qk_scale())
                                              .drop_path(dpr)
                                              .local_ws(o.local_ws()[i])
                                              .alpha(o.alpha())
                                              .has_msa(o.has_msa()[i] == 1)));
    }
    auto layer = std::make_shared<nn::Module>("LITLayer");
    layer->register_module("blocks", blocks);
    if (i + 1 < S) layer->register_module("downsample", modules::DTM(dim));
    layers->push_back(layer);
  }
  register_module("layers", layers);
  num_features_ = o.embed_dim() << (S - 1);
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({num_features_})));
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);  // Linear trunc_normal(.02) / LN 1/0; convs keep defaults
  for (const auto& l : *layers)       // ... and the DTM offset convs stay zero (mmcv's init_offset)
    if (auto d = l->named_children().find("downsample")) {
      torch::NoGradGuard ng;
      (*d)->as<modules::DTMImpl>()->dconv->conv_offset->weight.zero_();
      (*d)->as<modules::DTMImpl>()->dconv->conv_offset->bias.zero_();
    }
}

at::Tensor LITv2Impl::run(const at::Tensor& x, StageSink sink) {
  at::Tensor t = patch_embed(x);
  int64_t H = x.size(2) / options.patch_size(), W = x.size(3) / options.patch_size();
  for (const auto& l : *layers) {
    for (const auto& b : *l->named_children()["blocks"]->as<nn::ModuleList>()) t = b->as<modules::LITBlockImpl>()->forward(t, H, W);
    if (sink.add(t.transpose(1, 2).reshape({t.size(0), t.size(2), H, W}))) return {};
    if (auto d = l->named_children().find("downsample")) {
      t = (*d)->as<modules::DTMImpl>()->forward(t, H, W);
      H /= 2;
      W /= 2;
    }
  }
  t = norm(t);
  return t.transpose(1, 2).reshape({t.size(0), t.size(2), H, W});
}

at::Tensor LITv2Impl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> LITv2Impl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> out;
  run(x, StageSink(&out, last_stage));
  return out;
}

// The final LayerNorm over the channels of the last stage's map.
at::Tensor LITv2Impl::finish_features(const at::Tensor& last_stage_output) {
  return norm(last_stage_output.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

at::Tensor LITv2Impl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.flatten(2).mean(-1), pre_logits); }

void LITv2Impl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> LITv2Impl::feature_info() const {
  std::vector<int64_t> dims;
  for (size_t i = 0; i < options.depths().size(); ++i) dims.push_back(options.embed_dim() << i);
  return hierarchical_feature_info(dims, static_cast<int64_t>(dims.size()), "layers.");
}

void register_litv2(Registry& r) {
  PretrainedCfg cfg;  // the authors' DeiT/Swin pipeline: crop 0.875, bicubic, ImageNet mean/std
  cfg.first_conv = "patch_embed.proj";
  cfg.classifier = "head";
  cfg.fixed_input_size = true;
  cfg.paper = "arXiv:2205.13213";
  r.add_family(family_of<LITv2, LITv2Options>("litv2", "LITv2, HiLo attention + deformable token merging (Pan et al. NeurIPS 2022, arXiv 2205.13213)", cfg));
  struct V {
    const char* name;
    int64_t embed;
    std::vector<int64_t> depths, heads;
    int64_t img;
    double top1;  // classification/README.md's results table (weights: GitHub release v1.0, Apache-2.0)
  };
  for (const auto& v : {V{"litv2_s", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 224, 82.0}, V{"litv2_m", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 224, 83.3},
                        V{"litv2_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 224, 83.6},
                        V{"litv2_b_384", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 384, 84.7}}) {
    ModelVariant mv;
    mv.name = v.name;
    mv.family = "litv2";
    mv.args = {{"img_size", v.img}, {"embed_dim", v.embed}, {"depths", v.depths}, {"num_heads", v.heads},
               {"alpha", 0.9},      {"local_ws", {0, 0, 2, 1}}, {"mlp_ratio", 4.0}, {"qkv_bias", true}};
    mv.pretrained = cfg;
    mv.pretrained.input_size = {3, v.img, v.img};
    if (v.img == 384) mv.pretrained.crop_pct = 1.0;
    mv.pretrained.weights("https://github.com/ziplab/LITv2/releases/download/v1.0/" + std::string(v.name) + ".pth", v.top1,
                          "Apache-2.0");
    r.add_variant(mv);
  }
}

}  // namespace attnzoo::models
