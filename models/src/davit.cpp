#include <attnzoo/models/davit.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <regex>

namespace attnzoo::models {

namespace nn = torch::nn;
using modules::DaViTBlockOptions;

DaViTImpl::DaViTImpl(const DaViTOptions& o) : options(o) {
  const auto& E = o.embed_dims();
  const size_t S = E.size();
  TORCH_CHECK(S >= 1 && o.num_heads().size() == S && o.depths().size() == S,
              "DaViT: embed_dims, num_heads and depths need the same number of stages");
  int64_t layers = 0;
  for (auto d : o.depths()) layers += d;
  for (size_t i = 0; i < S; ++i)
    patch_embeds->push_back(modules::DaViTPatchEmbed(
        modules::DaViTPatchEmbedOptions(i == 0 ? o.patch_size() : 2, i == 0 ? o.in_chans() : E[i - 1], E[i])
            .overlapped(o.overlapped_patch())));
  register_module("patch_embeds", patch_embeds);
  // dpr = linspace(0, rate, 2 * layers): layer l's spatial block gets dpr[2l], its channel block dpr[2l+1].
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), 2 * layers);
  auto dpr = [&](int64_t k) { return rates[static_cast<size_t>(k)]; };
  int64_t l = 0;
  for (size_t i = 0; i < S; ++i) {
    nn::ModuleList stage;
    for (int64_t j = 0; j < o.depths()[i]; ++j, ++l) {
      auto bo = DaViTBlockOptions(E[i], o.num_heads()[i]).window_size(o.window_size()).mlp_ratio(o.mlp_ratio()).qkv_bias(o.qkv_bias()).ffn(o.ffn());
      nn::ModuleList pair;  // MySequential(SpatialBlock, ChannelBlock): keys .0 / .1
      pair->push_back(modules::DaViTSpatialBlock(DaViTBlockOptions(bo).drop_path(dpr(2 * l))));
      pair->push_back(modules::DaViTChannelBlock(DaViTBlockOptions(bo).drop_path(dpr(2 * l + 1))));
      stage->push_back(pair);
    }
    main_blocks->push_back(stage);
  }
  register_module("main_blocks", main_blocks);
  norms = register_module("norms", nn::LayerNorm(nn::LayerNormOptions({E.back()})));
  num_features_ = E.back();
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);  // _init_vit_weights without names: Linear trunc_normal, LN 1/0
}

std::vector<at::Tensor> DaViTImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "DaViT: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  std::vector<at::Tensor> out;
  StageSink sink(&out, last_stage);
  at::Tensor t = x;
  modules::Size2 size{x.size(2), x.size(3)};
  for (size_t i = 0; i < main_blocks->size(); ++i) {
    std::tie(t, size) = patch_embeds[i]->as<modules::DaViTPatchEmbedImpl>()->forward(t, size);
    for (const auto& layer : *main_blocks[i]->as<nn::ModuleList>()) {
      const auto& pair = *layer->as<nn::ModuleList>();
      t = pair[0]->as<modules::DaViTSpatialBlockImpl>()->forward(t, size);
      t = pair[1]->as<modules::DaViTChannelBlockImpl>()->forward(t, size);
    }
    if (sink.add(t.transpose(1, 2).reshape({t.size(0), t.size(2), size[0], size[1]}))) break;
  }
  return out;
}

at::Tensor DaViTImpl::forward_features(const at::Tensor& x) { return forward_stages(x, -1).back(); }

at::Tensor DaViTImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  return apply_head(norms(x.flatten(2).mean(-1)), pre_logits);  // pool, then norm (unlike Swin)
}

void DaViTImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> DaViTImpl::feature_info() const {
  return hierarchical_feature_info(options.embed_dims(), static_cast<int64_t>(options.embed_dims().size()), "main_blocks.");
}

namespace {

checkpoint::TensorDict rename_keys(const checkpoint::TensorDict& w, const std::vector<std::pair<std::regex, std::string>>& rules) {
  checkpoint::TensorDict out;
  for (const auto& item : w) {
    std::string k = item.key();
    for (const auto& [re, rep] : rules) k = std::regex_replace(k, re, rep);
    out.insert(k, item.value());
  }
  return out;
}

}  // namespace

checkpoint::TensorDict davit_to_timm_keys(const checkpoint::TensorDict& w) {
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^patch_embeds\.0\.proj\.)"), "stem.conv."},
      {std::regex(R"(^patch_embeds\.0\.norm\.)"), "stem.norm."},
      {std::regex(R"(^patch_embeds\.(\d+)\.proj\.)"), "stages.$1.downsample.conv."},
      {std::regex(R"(^patch_embeds\.(\d+)\.norm\.)"), "stages.$1.downsample.norm."},
      {std::regex(R"(^main_blocks\.(\d+)\.)"), "stages.$1.blocks."},
      {std::regex(R"(\.cpe\.0\.)"), ".cpe1."},
      {std::regex(R"(\.cpe\.1\.)"), ".cpe2."},
      {std::regex(R"(^head\.)"), "head.fc."},
      {std::regex(R"(^norms\.)"), "head.norm."},
  };
  return rename_keys(w, rules);
}

checkpoint::TensorDict davit_from_timm_keys(const checkpoint::TensorDict& w) {
  if (!w.contains("head.fc.weight") && !w.contains("stem.conv.weight")) return w;  // already official
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^stem\.conv\.)"), "patch_embeds.0.proj."},
      {std::regex(R"(^stem\.norm\.)"), "patch_embeds.0.norm."},
      {std::regex(R"(^stages\.(\d+)\.downsample\.conv\.)"), "patch_embeds.$1.proj."},
      {std::regex(R"(^stages\.(\d+)\.downsample\.norm\.)"), "patch_embeds.$1.norm."},
      {std::regex(R"(^stages\.(\d+)\.blocks\.)"), "main_blocks.$1."},
      {std::regex(R"(\.cpe1\.)"), ".cpe.0."},
      {std::regex(R"(\.cpe2\.)"), ".cpe.1."},
      {std::regex(R"(^head\.fc\.)"), "head."},
      {std::regex(R"(^head\.norm\.)"), "norms."},
  };
  return rename_keys(w, rules);
}

checkpoint::TensorDict DaViTImpl::filter_checkpoint(checkpoint::TensorDict weights) const {
  return davit_from_timm_keys(weights);
}

checkpoint::TensorDict DaViTImpl::to_layout(checkpoint::TensorDict weights, const std::string& layout) const {
  return layout == "timm" ? davit_to_timm_keys(weights) : ClassifierImpl::to_layout(std::move(weights), layout);
}

void register_davit(Registry& r) {
  PretrainedCfg cfg;  // timm's DaViT cfg: crop 0.95, bicubic, ImageNet mean/std
  cfg.first_conv = "patch_embeds.0.proj";
  cfg.classifier = "head";
  cfg.crop_pct = 0.95;
  cfg.paper = "arXiv:2204.03645";
  r.add_family(family_of<DaViT, DaViTOptions>("davit", "DaViT, dual (spatial window + channel group) attention (Ding et al. ECCV 2022, arXiv 2204.03645)", cfg));
  struct V {
    const char* name;
    std::vector<int64_t> depths, dims, heads;
    int64_t window, img;
    const char* drive_id;  // the README's checkpoint (Google Drive; MIT); none released for the large 384 model
    double top1;
  };
  for (const auto& v : {V{"davit_tiny", {1, 1, 3, 1}, {96, 192, 384, 768}, {3, 6, 12, 24}, 7, 224, "1RSpi3lxKaloOL5-or20HuG975tbPwxRZ", 82.8},
                        V{"davit_small", {1, 1, 9, 1}, {96, 192, 384, 768}, {3, 6, 12, 24}, 7, 224, "1q976ruj45mt0RhO9oxhOo6EP_cmj4ahQ", 84.2},
                        V{"davit_base", {1, 1, 9, 1}, {128, 256, 512, 1024}, {4, 8, 16, 32}, 7, 224, "1u9sDBEueB-YFuLigvcwf4b2YyA4MIVsZ", 84.6},
                        V{"davit_large_window12_384", {1, 1, 9, 1}, {192, 384, 768, 1536}, {6, 12, 24, 48}, 12, 384, "", 0}}) {
    ModelVariant mv;
    mv.name = v.name;
    mv.family = "davit";
    mv.args = {{"depths", v.depths}, {"embed_dims", v.dims}, {"num_heads", v.heads}, {"window_size", v.window},
               {"patch_size", 4}, {"mlp_ratio", 4.0}, {"qkv_bias", true}, {"overlapped_patch", false}, {"img_size", v.img}};
    mv.pretrained = cfg;
    mv.pretrained.input_size = {3, v.img, v.img};
    if (v.img == 384) mv.pretrained.crop_pct = 1.0;
    // Google Drive answers large files with a confirmation page: --download refuses it (not a checkpoint)
    // and the error says where to place the file fetched with a browser.
    if (*v.drive_id) {
      mv.pretrained.weights(std::string("https://drive.google.com/uc?export=download&id=") + v.drive_id, v.top1, "MIT",
                            std::string(v.name) + ".pth");
      // timm's copy of the same weights (timm's key names; filter_checkpoint maps them), fetchable without a browser.
      const std::string hub = std::string(v.name) + ".msft_in1k";
      mv.pretrained.mirror("https://huggingface.co/timm/" + hub + "/resolve/main/model.safetensors", hub + ".safetensors");
    }
    r.add_variant(mv);
  }
}

}  // namespace attnzoo::models
