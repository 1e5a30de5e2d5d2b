#include <attnzoo/models/nat.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/patch_merging.h>

#include <torch/torch.h>

namespace attnzoo::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using json = nlohmann::json;
using modules::NATLayer;
using modules::NATLayerOptions;

namespace {

// nat.py ConvDownsampler: conv 3x3/2 (no bias) on NCHW, back to NHWC, LayerNorm(2C).
class ConvDownsamplerImpl : public nn::Module {
 public:
  explicit ConvDownsamplerImpl(int64_t dim) {
    reduction = register_module("reduction",
                                nn::Conv2d(nn::Conv2dOptions(dim, 2 * dim, 3).stride(2).padding(1).bias(false)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({2 * dim})));
  }
  at::Tensor forward(const at::Tensor& x) { return norm(reduction(x.permute({0, 3, 1, 2})).permute({0, 2, 3, 1})); }
  nn::Conv2d reduction{nullptr};
  nn::LayerNorm norm{nullptr};
};

}  // namespace

NATImpl::NATImpl(const NATOptions& o) : options(o) {
  const std::string& layout = o.layout();
  TORCH_CHECK(layout == "nat" || layout == "dinat_s" || layout == "isotropic", "NAT: unknown layout ", layout);
  const bool iso = layout == "isotropic";
  const std::vector<int64_t> depths = iso ? std::vector<int64_t>{o.depth()} : o.depths();
  const int64_t levels = static_cast<int64_t>(depths.size());
  TORCH_CHECK(levels >= 1 && (iso || static_cast<int64_t>(o.num_heads().size()) == levels),
              "NAT: depths and num_heads need the same number of levels");
  if (!o.dilations().empty()) {
    TORCH_CHECK(static_cast<int64_t>(o.dilations().size()) == levels, "NAT: dilations needs one list per level");
    for (int64_t i = 0; i < levels; ++i)
      TORCH_CHECK(static_cast<int64_t>(o.dilations()[i].size()) >= depths[i], "NAT: dilations[", i, "] has ",
                  o.dilations()[i].size(), " entries for ", depths[i], " layers");
  }
  const int64_t C = o.embed_dim();

  // Patch embedding.
  auto pe = std::make_shared<nn::Module>("PatchEmbed");
  if (layout == "nat") {  // ConvTokenizer: two 3x3/2 convs (no act / norm between), LayerNorm
    tokenizer_ = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(o.in_chans(), C / 2, 3).stride(2).padding(1)),
                                nn::Conv2d(nn::Conv2dOptions(C / 2, C, 3).stride(2).padding(1)));
    pe->register_module("proj", tokenizer_);
    patch_norm_ = pe->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  } else {
    const int64_t p = o.patch_size();
    patch_conv_ = pe->register_module("proj", nn::Conv2d(nn::Conv2dOptions(o.in_chans(), C, p).stride(p)));
    if (o.patch_norm()) patch_norm_ = pe->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  }
  patch_embed_ = register_module("patch_embed", pe);

  int64_t total = 0;
  for (auto d : depths) total += d;
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), total);
  int64_t cur = 0;
  const int64_t stem_stride = layout == "nat" ? 4 : o.patch_size();
  auto container = iso ? nullptr : register_module(layout == "nat" ? "levels" : "layers", nn::ModuleList());
  nn::Sequential iso_layers{nullptr};
  if (iso) iso_layers = register_module("layers", nn::Sequential());
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t dim = iso ? C : C << i;
    const int64_t heads = iso ? o.num_heads().at(0) : o.num_heads()[i];
    auto level = std::make_shared<nn::Module>(layout == "nat" ? "NATBlock" : "BasicLayer");
    nn::ModuleList blocks;
    blocks_.emplace_back();
    for (int64_t j = 0; j < depths[i]; ++j, ++cur) {
      const double dpr = rates[static_cast<size_t>(cur)];
      int64_t dil = o.dilations().empty() ? 1 : o.dilations()[i][j];
      if (iso) dil = j % 2 == 0 ? 1 : o.dilation();
      NATLayerOptions lo(dim, heads);
      lo.kernel_size(o.kernel_size())
          .dilation(dil)
          .mlp_ratio(o.mlp_ratio())
          .qkv_bias(o.qkv_bias())
          .qk_scale(o.qk_scale())
          .drop(o.drop_rate())
          .attn_drop(o.attn_drop_rate())
          .drop_path(dpr)
          .layer_scale(layout == "nat" ? o.layer_scale() : 0.0);  // only NATLayer has layer scale
      if (iso && o.global_attention()) lo.global_size(o.img_size() / o.patch_size());
      NATLayer layer(lo);
      if (iso)
        iso_layers->push_back(layer);
      else
        blocks->push_back(layer);
      blocks_.back().push_back(layer);
    }
    feature_info_.push_back({dim, stem_stride << (iso ? 0 : i), (layout == "nat" ? "levels." : "layers.") + std::to_string(i)});
    if (iso) continue;
    level->register_module("blocks", blocks);
    if (i < levels - 1) {
      std::shared_ptr<nn::Module> down;
      if (layout == "nat")
        down = std::make_shared<ConvDownsamplerImpl>(dim);
      else
        down = modules::PatchMerging(dim).ptr();  // dinats.py PatchMerging (Swin's, pads odd maps)
      level->register_module("downsample", down);
      downsamplers_.push_back(down);
    }
    container->push_back(level);
  }
  if (iso) feature_info_ = {{C, o.patch_size(), "layers"}};
  num_features_ = iso ? C : C << (levels - 1);
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({num_features_})));
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);  // Linear trunc_normal(.02) / 0, LayerNorm 1 / 0; convs keep PyTorch's init
}

at::Tensor NATImpl::embed(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "NAT: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  at::Tensor y;
  if (tokenizer_) {
    y = tokenizer_->forward(x).permute({0, 2, 3, 1});
  } else {
    at::Tensor in = x;
    const int64_t p = options.patch_size();
    if (options.layout() == "isotropic")
      TORCH_CHECK(x.size(2) == options.img_size() && x.size(3) == options.img_size(), "NAT isotropic: built for ",
                  options.img_size(), "x", options.img_size(), " input, got ", x.size(2), "x", x.size(3));
    // dinats.py PatchEmbed pads the right / bottom to a multiple of the patch size.
    if (x.size(3) % p) in = F::pad(in, F::PadFuncOptions({0, p - x.size(3) % p}));
    if (x.size(2) % p) in = F::pad(in, F::PadFuncOptions({0, 0, 0, p - x.size(2) % p}));
    y = patch_conv_(in).permute({0, 2, 3, 1});
  }
  return patch_norm_ ? patch_norm_(y) : y;
}

at::Tensor NATImpl::run(const at::Tensor& x, std::vector<at::Tensor>* feats) {
  at::Tensor y = embed(x);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    for (auto& b : blocks_[i]) y = b(y);
    if (feats) feats->push_back(y);
    if (i < downsamplers_.size()) {
      if (auto* c = dynamic_cast<ConvDownsamplerImpl*>(downsamplers_[i].get()))
        y = c->forward(y);
      else
        y = downsamplers_[i]->as<modules::PatchMergingImpl>()->forward(y);
    }
  }
  return y;
}

at::Tensor NATImpl::forward_features(const at::Tensor& x) { return norm_(run(x, nullptr)).permute({0, 3, 1, 2}); }

std::vector<at::Tensor> NATImpl::forward_intermediates(const at::Tensor& x) {
  std::vector<at::Tensor> feats;
  run(x, &feats);
  for (auto& f : feats) f = f.permute({0, 3, 1, 2}).contiguous();
  return feats;
}

at::Tensor NATImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  return apply_head(x.mean({2, 3}), pre_logits);  // the official head has no dropout
}

void NATImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> NATImpl::feature_info() const { return feature_info_; }

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

// `norm_layer` must be nn.LayerNorm (eps 1e-5) in every official variant.
void check_norm(ArgReader& a, const std::string& owner) {
  const auto n = a.get<std::string>("norm_layer", "nn.LayerNorm");
  if (layer_norm_eps(n, owner) != 1e-5)
    throw std::invalid_argument(owner + ": only norm_layer nn.LayerNorm (eps 1e-5) is supported");
}

NATOptions common(ArgReader& a, NATOptions o) {
  o.embed_dim(a.get("embed_dim", o.embed_dim()))
      .mlp_ratio(a.get("mlp_ratio", o.mlp_ratio()))
      .drop_path_rate(a.get("drop_path_rate", o.drop_path_rate()))
      .in_chans(a.get("in_chans", o.in_chans()))
      .num_classes(a.get("num_classes", o.num_classes()))
      .qkv_bias(a.get("qkv_bias", o.qkv_bias()))
      .qk_scale(a.get("qk_scale", o.qk_scale()))
      .drop_rate(a.get("drop_rate", o.drop_rate()))
      .attn_drop_rate(a.get("attn_drop_rate", o.attn_drop_rate()));
  return o;
}

PretrainedCfg nat_cfg(const std::string& url, int64_t size = 224) {
  PretrainedCfg c;
  c.input_size = {3, size, size};
  c.crop_pct = 0.875;
  c.interpolation = "bicubic";
  c.first_conv = "patch_embed.proj.0";
  c.classifier = "head";
  c.url = url;
  c.paper = "arXiv:2204.07143";
  return c;
}

json dil(std::initializer_list<std::vector<int64_t>> l) { return json(std::vector<std::vector<int64_t>>(l)); }

std::vector<int64_t> alt(int64_t n, int64_t a, int64_t b) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i % 2 == 0 ? a : b);
  return v;
}

}  // namespace

void register_nat(Registry& r) {
  // NAT and DiNAT (dinat.py: `class DiNAT(NAT): pass`): one family.
  {
    ModelFamily fam;
    fam.name = "nat";
    fam.description = "NAT / DiNAT, (dilated) neighborhood attention (Hassani et al., arXiv 2204.07143, 2209.15001)";
    const NATOptions d;
    fam.default_args = {{"embed_dim", d.embed_dim()}, {"mlp_ratio", d.mlp_ratio()}, {"depths", d.depths()},
                        {"num_heads", d.num_heads()}, {"drop_path_rate", 0.2},    {"in_chans", 3},
                        {"kernel_size", 7},           {"dilations", nullptr},    {"num_classes", 1000},
                        {"qkv_bias", true},           {"qk_scale", nullptr},     {"drop_rate", 0.0},
                        {"attn_drop_rate", 0.0},      {"norm_layer", "nn.LayerNorm"}, {"layer_scale", nullptr}};
    fam.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "nat");
      NATOptions o = common(a, NATOptions());
      o.depths(a.get("depths", o.depths()))
          .num_heads(a.get("num_heads", o.num_heads()))
          .kernel_size(a.get("kernel_size", o.kernel_size()))
          .dilations(a.get("dilations", o.dilations()))
          .layer_scale(a.get("layer_scale", 0.0))
          .layout("nat");
      check_norm(a, "nat");
      a.finish();
      return NAT(o).ptr();
    };
    fam.pretrained = nat_cfg("");
    r.add_family(fam);
    const std::string nat_url = "https://shi-labs.com/projects/nat/checkpoints/CLS/";
    const std::string dinat_url = "https://shi-labs.com/projects/dinat/checkpoints/";
    auto add = [&](const std::string& name, json args, const std::string& url, int64_t size = 224) {
      ModelVariant v;
      v.name = name;
      v.family = "nat";
      v.args = std::move(args);
      v.pretrained = nat_cfg(url, size);
      if (name.rfind("dinat", 0) == 0) v.pretrained.paper = "arXiv:2209.15001";
      r.add_variant(v);
    };
    const std::vector<int64_t> d6{3, 4, 6, 5}, d18{3, 4, 18, 5};
    add("nat_mini", {{"depths", d6}, {"num_heads", {2, 4, 8, 16}}, {"embed_dim", 64}, {"mlp_ratio", 3}, {"drop_path_rate", 0.2}, {"kernel_size", 7}},
        nat_url + "nat_mini.pth");
    add("nat_tiny", {{"depths", d18}, {"num_heads", {2, 4, 8, 16}}, {"embed_dim", 64}, {"mlp_ratio", 3}, {"drop_path_rate", 0.2}, {"kernel_size", 7}},
        nat_url + "nat_tiny.pth");
    add("nat_small", {{"depths", d18}, {"num_heads", {3, 6, 12, 24}}, {"embed_dim", 96}, {"mlp_ratio", 2}, {"drop_path_rate", 0.3}, {"layer_scale", 1e-5}, {"kernel_size", 7}},
        nat_url + "nat_small.pth");
    add("nat_base", {{"depths", d18}, {"num_heads", {4, 8, 16, 32}}, {"embed_dim", 128}, {"mlp_ratio", 2}, {"drop_path_rate", 0.5}, {"layer_scale", 1e-5}, {"kernel_size", 7}},
        nat_url + "nat_base.pth");
    const json dm = dil({{1, 8, 1}, {1, 4, 1, 4}, alt(6, 1, 2), {1, 1, 1, 1, 1}});
    const json dt = dil({{1, 8, 1}, {1, 4, 1, 4}, alt(18, 1, 2), {1, 1, 1, 1, 1}});
    const json d384 = dil({{1, 13, 1}, {1, 6, 1, 6}, alt(18, 1, 3), {1, 1, 1, 1, 1}});
    const std::string in1k = dinat_url + "imagenet1k/", in22k = dinat_url + "imagenet22k/";
    add("dinat_mini", {{"depths", d6}, {"num_heads", {2, 4, 8, 16}}, {"embed_dim", 64}, {"mlp_ratio", 3}, {"drop_path_rate", 0.2}, {"kernel_size", 7}, {"dilations", dm}},
        in1k + "dinat_mini_in1k_224.pth");
    add("dinat_tiny", {{"depths", d18}, {"num_heads", {2, 4, 8, 16}}, {"embed_dim", 64}, {"mlp_ratio", 3}, {"drop_path_rate", 0.2}, {"kernel_size", 7}, {"dilations", dt}},
        in1k + "dinat_tiny_in1k_224.pth");
    add("dinat_small", {{"depths", d18}, {"num_heads", {3, 6, 12, 24}}, {"embed_dim", 96}, {"mlp_ratio", 2}, {"drop_path_rate", 0.3}, {"kernel_size", 7}, {"dilations", dt}},
        in1k + "dinat_small_in1k_224.pth");
    add("dinat_base", {{"depths", d18}, {"num_heads", {4, 8, 16, 32}}, {"embed_dim", 128}, {"mlp_ratio", 2}, {"drop_path_rate", 0.5}, {"layer_scale", 1e-5}, {"kernel_size", 7}, {"dilations", dt}},
        in1k + "dinat_base_in1k_224.pth");
    const json large = {{"depths", d18}, {"num_heads", {6, 12, 24, 48}}, {"embed_dim", 192}, {"mlp_ratio", 2}, {"drop_path_rate", 0.35}, {"kernel_size", 7}, {"dilations", dt}};
    auto with = [](json base, json extra) {
      for (auto it = extra.begin(); it != extra.end(); ++it) base[it.key()] = it.value();
      return base;
    };
    add("dinat_large", large, in1k + "dinat_large_in22k_in1k_224.pth");
    add("dinat_large_384", with(large, {{"dilations", d384}}), in1k + "dinat_large_in22k_in1k_384.pth", 384);
    add("dinat_large_384_11x11", with(large, {{"kernel_size", 11}}), in1k + "dinat_large_in22k_in1k_384_11x11.pth", 384);
    // The ImageNet-22k checkpoints have 21841 classes: load with num_classes=21841 (the registered head is 1000).
    add("dinat_large_21k", with(large, {{"drop_path_rate", 0.2}}), in22k + "dinat_large_in22k_224.pth");
    add("dinat_large_21k_11x11", with(large, {{"drop_path_rate", 0.2}, {"kernel_size", 11}}),
        in22k + "dinat_large_in22k_224_11x11interp.pth");
  }
  // DiNAT_s (dinats.py): Swin layout.
  {
    ModelFamily fam;
    fam.name = "dinat_s";
    fam.description = "DiNAT_s, dilated neighborhood attention in the Swin layout (arXiv 2209.15001)";
    fam.default_args = {{"patch_size", 4},      {"in_chans", 3},          {"num_classes", 1000},
                        {"embed_dim", 96},      {"depths", {2, 2, 6, 2}}, {"num_heads", {3, 6, 12, 24}},
                        {"kernel_size", 7},     {"dilations", nullptr},  {"mlp_ratio", 4.0},
                        {"qkv_bias", true},     {"qk_scale", nullptr},   {"drop_rate", 0.0},
                        {"attn_drop_rate", 0.0}, {"drop_path_rate", 0.2}, {"norm_layer", "nn.LayerNorm"},
                        {"patch_norm", true}};
    fam.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "dinat_s");
      NATOptions o;
      o.embed_dim(96).mlp_ratio(4.0).depths({2, 2, 6, 2}).num_heads({3, 6, 12, 24});
      o = common(a, o);
      o.depths(a.get("depths", o.depths()))
          .num_heads(a.get("num_heads", o.num_heads()))
          .kernel_size(a.get("kernel_size", o.kernel_size()))
          .dilations(a.get("dilations", o.dilations()))
          .patch_size(a.get("patch_size", o.patch_size()))
          .patch_norm(a.get("patch_norm", o.patch_norm()))
          .layout("dinat_s");
      check_norm(a, "dinat_s");
      a.finish();
      return NAT(o).ptr();
    };
    PretrainedCfg pc = nat_cfg("");
    pc.first_conv = "patch_embed.proj";
    pc.paper = "arXiv:2209.15001";
    fam.pretrained = pc;
    r.add_family(fam);
    const std::string base = "https://shi-labs.com/projects/dinat/checkpoints/";
    const json dt = dil({{1, 8}, {1, 4}, alt(6, 1, 2), {1, 1}}), ds = dil({{1, 8}, {1, 4}, alt(18, 1, 2), {1, 1}});
    const json d384 = dil({{1, 13}, {1, 6}, alt(18, 1, 3), {1, 1}});
    struct V {
      const char* name;
      std::vector<int64_t> depths, heads;
      int64_t dim;
      double dpr;
      json dils;
      const char* file;
      int64_t size;
    };
    const V vs[] = {
        {"dinat_s_tiny", {2, 2, 6, 2}, {3, 6, 12, 24}, 96, 0.2, dt, "imagenet1k/dinat_s_tiny_in1k_224.pth", 224},
        {"dinat_s_small", {2, 2, 18, 2}, {3, 6, 12, 24}, 96, 0.3, ds, "imagenet1k/dinat_s_small_in1k_224.pth", 224},
        {"dinat_s_base", {2, 2, 18, 2}, {4, 8, 16, 32}, 128, 0.5, ds, "imagenet1k/dinat_s_base_in1k_224.pth", 224},
        {"dinat_s_large", {2, 2, 18, 2}, {6, 12, 24, 48}, 192, 0.35, ds, "imagenet1k/dinat_s_large_in1k_224.pth", 224},
        {"dinat_s_large_384", {2, 2, 18, 2}, {6, 12, 24, 48}, 192, 0.35, d384, "imagenet1k/dinat_s_large_in1k_384.pth", 384},
        {"dinat_s_large_21k", {2, 2, 18, 2}, {6, 12, 24, 48}, 192, 0.2, ds, "imagenet22k/dinat_s_large_in22k_224.pth", 224},
    };
    for (const auto& v : vs) {
      ModelVariant mv;
      mv.name = v.name;
      mv.family = "dinat_s";
      mv.args = {{"depths", v.depths}, {"num_heads", v.heads}, {"embed_dim", v.dim}, {"mlp_ratio", 4},
                 {"drop_path_rate", v.dpr}, {"kernel_size", 7}, {"dilations", v.dils}};
      mv.pretrained = pc;
      mv.pretrained.url = base + v.file;
      mv.pretrained.input_size = {3, v.size, v.size};
      r.add_variant(mv);
    }
  }
  // Isotropic (isotropic.py): NAT / DiNAT layers or ViT-RPB global attention at one resolution.
  {
    ModelFamily fam;
    fam.name = "nat_isotropic";
    fam.description = "isotropic NAT / DiNAT / ViT-RPB (DiNAT paper ablation, arXiv 2209.15001)";
    fam.default_args = {{"img_size", 224},        {"patch_size", 16},      {"in_chans", 3},
                        {"num_classes", 1000},    {"embed_dim", 384},      {"depth", 12},
                        {"num_heads", 12},        {"mlp_ratio", 4.0},      {"qkv_bias", true},
                        {"qk_scale", nullptr},    {"kernel_size", 7},      {"dilation", 2},
                        {"layer", "NATransformerLayer"}, {"drop_rate", 0.0}, {"attn_drop_rate", 0.0},
                        {"drop_path_rate", 0.1},  {"norm_layer", "nn.LayerNorm"}, {"patch_norm", true}};
    fam.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "nat_isotropic");
      NATOptions o;
      o.embed_dim(384).mlp_ratio(4.0).drop_path_rate(0.1);
      o = common(a, o);
      const std::string layer = a.get<std::string>("layer", "NATransformerLayer");
      if (layer != "NATransformerLayer" && layer != "VisionTransformerLayer")
        throw std::invalid_argument("nat_isotropic: layer must be NATransformerLayer or VisionTransformerLayer");
      o.img_size(a.get("img_size", o.img_size()))
          .patch_size(a.get<int64_t>("patch_size", 16))
          .depth(a.get("depth", o.depth()))
          .num_heads({a.get<int64_t>("num_heads", 12)})
          .kernel_size(a.get<int64_t>("kernel_size", 7))
          .dilation(a.get<int64_t>("dilation", 2))
          .patch_norm(a.get("patch_norm", o.patch_norm()))
          .global_attention(layer == "VisionTransformerLayer")
          .layout("isotropic");
      check_norm(a, "nat_isotropic");
      a.finish();
      return NAT(o).ptr();
    };
    PretrainedCfg pc = nat_cfg("");
    pc.first_conv = "patch_embed.proj";
    pc.paper = "arXiv:2209.15001";
    pc.fixed_input_size = true;
    fam.pretrained = pc;
    r.add_family(fam);
    const std::string base = "https://shi-labs.com/projects/dinat/checkpoints/isotropic/";
    struct V {
      const char* name;
      int64_t dim, heads;
      double dpr;
      json kernel, dilation;
      const char* layer;
    };
    const V vs[] = {
        {"vitrpb_small", 384, 12, 0.1, nullptr, nullptr, "VisionTransformerLayer"},
        {"nat_isotropic_small", 384, 12, 0.1, 7, 1, "NATransformerLayer"},
        {"dinat_isotropic_small", 384, 12, 0.1, 7, 2, "NATransformerLayer"},
        {"vitrpb_base", 768, 24, 0.4, nullptr, nullptr, "VisionTransformerLayer"},
        {"nat_isotropic_base", 768, 24, 0.4, 7, 1, "NATransformerLayer"},
        {"dinat_isotropic_base", 768, 24, 0.4, 7, 2, "NATransformerLayer"},
    };
    for (const auto& v : vs) {
      ModelVariant mv;
      mv.name = v.name;
      mv.family = "nat_isotropic";
      mv.args = {{"img_size", 224}, {"patch_size", 16}, {"embed_dim", v.dim}, {"depth", 12}, {"num_heads", v.heads},
                 {"mlp_ratio", 4.0}, {"kernel_size", v.kernel}, {"dilation", v.dilation}, {"layer", v.layer},
                 {"drop_path_rate", v.dpr}};
      mv.pretrained = pc;
      mv.pretrained.url = base + std::string(v.name) + "_in1k_224.pth";
      r.add_variant(mv);
    }
  }
}

}  // namespace attnzoo::models
