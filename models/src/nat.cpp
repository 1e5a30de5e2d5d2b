#include <attnzoo/models/nat.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/patch_merging.h>

#include <torch/torch.h>

#include <map>

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

// A NATLayer's options from the arguments every class shares.
template <class Options>
NATLayerOptions layer_options(const Options& o, int64_t dim, int64_t heads, int64_t kernel, int64_t dilation, double dpr) {
  NATLayerOptions lo(dim, heads);
  lo.kernel_size(kernel)
      .dilation(dilation)
      .mlp_ratio(o.mlp_ratio())
      .qkv_bias(o.qkv_bias())
      .qk_scale(o.qk_scale())
      .drop(o.drop_rate())
      .attn_drop(o.attn_drop_rate())
      .drop_path(dpr);
  return lo;
}

// Every level's layer options: width embed_dim << i, the level's heads and dilations, stochastic depth
// rising over all layers.
template <class Options>
std::vector<std::vector<NATLayerOptions>> level_layer_options(const Options& o) {
  const auto rates = modules::drop_path_rates(o.drop_path_rate(), o.depths());
  std::vector<std::vector<NATLayerOptions>> out(o.depths().size());
  for (size_t i = 0; i < out.size(); ++i)
    for (int64_t j = 0; j < o.depths()[i]; ++j) {
      const int64_t dil = o.dilations().empty() ? 1 : o.dilations()[i][j];
      out[i].push_back(layer_options(o, o.embed_dim() << i, o.num_heads()[i], o.kernel_size(), dil, rates[i][j]));
    }
  return out;
}

void check_levels(const std::vector<int64_t>& depths, const std::vector<int64_t>& heads,
                  const std::vector<std::vector<int64_t>>& dilations, const char* who) {
  const size_t levels = depths.size();
  TORCH_CHECK(levels >= 1 && heads.size() == levels, who, ": depths and num_heads need the same number of levels");
  if (dilations.empty()) return;
  TORCH_CHECK(dilations.size() == levels, who, ": dilations needs one list per level");
  for (size_t i = 0; i < levels; ++i)
    TORCH_CHECK(static_cast<int64_t>(dilations[i].size()) >= depths[i], who, ": dilations[", i, "] has ",
                dilations[i].size(), " entries for ", depths[i], " layers");
}

int64_t sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

// dinats.py / isotropic.py PatchEmbed: a p x p / p conv, the input padded right / bottom to a multiple of p.
at::Tensor patch_conv_nhwc(nn::Conv2d& conv, const at::Tensor& x, int64_t p) {
  at::Tensor in = x;
  if (x.size(3) % p) in = F::pad(in, F::PadFuncOptions({0, p - x.size(3) % p}));
  if (x.size(2) % p) in = F::pad(in, F::PadFuncOptions({0, 0, 0, p - x.size(2) % p}));
  return conv(in).permute({0, 2, 3, 1});
}

void check_input(const at::Tensor& x, int64_t in_chans, const char* who) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == in_chans, who, ": expected input [B, ", in_chans, ", H, W], got ", x.sizes());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Shared levels, norm and head

void NATBackboneImpl::add_level(std::vector<NATLayer> layers, nn::AnyModule downsample, FeatureInfo info) {
  blocks_.push_back(std::move(layers));
  if (!downsample.is_empty()) downsamplers_.push_back(std::move(downsample));
  feature_info_.push_back(std::move(info));
}

void NATBackboneImpl::add_levels(const std::vector<std::vector<NATLayerOptions>>& layers, const std::string& container,
                                 const std::string& level_class, int64_t stem_stride,
                                 const std::function<nn::AnyModule(int64_t dim)>& downsample) {
  auto list = register_module(container, nn::ModuleList());
  for (size_t i = 0; i < layers.size(); ++i) {
    TORCH_CHECK(!layers[i].empty(), "NAT: level ", i, " has no layers");
    const int64_t dim = layers[i].front().dim();
    auto level = std::make_shared<nn::Module>(level_class);
    nn::ModuleList blocks;
    std::vector<NATLayer> built;
    for (const auto& lo : layers[i]) {
      built.emplace_back(lo);
      blocks->push_back(built.back());
    }
    level->register_module("blocks", blocks);
    nn::AnyModule down;
    if (i + 1 < layers.size()) {
      down = downsample(dim);
      level->register_module("downsample", down.ptr());
    }
    list->push_back(level);
    add_level(std::move(built), std::move(down), {dim, stem_stride << i, container + "." + std::to_string(i)});
  }
}

void NATBackboneImpl::finish(int64_t num_features, int64_t num_classes) {
  num_features_ = num_features;
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({num_features_})));
  ClassifierImpl::reset_classifier(num_classes);
  modules::init_vit_weights(*this);  // Linear trunc_normal(.02) / 0, LayerNorm 1 / 0; convs keep PyTorch's init
}

at::Tensor NATBackboneImpl::run(const at::Tensor& x, StageSink sink) {
  at::Tensor y = embed(x);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    for (auto& b : blocks_[i]) y = b(y);
    if (sink.add(y)) return {};
    if (i < downsamplers_.size()) y = downsamplers_[i].forward(y);
  }
  return y;
}

at::Tensor NATBackboneImpl::forward_features(const at::Tensor& x) { return norm_(run(x, {})).permute({0, 3, 1, 2}); }

std::vector<at::Tensor> NATBackboneImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> feats;
  run(x, StageSink(&feats, last_stage));
  for (auto& f : feats) f = f.permute({0, 3, 1, 2}).contiguous();
  return feats;
}

// The final LayerNorm over the channels of the last stage's map.
at::Tensor NATBackboneImpl::finish_features(const at::Tensor& last_stage_output) {
  return norm_(last_stage_output.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

at::Tensor NATBackboneImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  return apply_head(x.mean({2, 3}), pre_logits);  // the official head has no dropout
}

// ---------------------------------------------------------------------------------------------------
// NAT / DiNAT: conv tokenizer, levels (NATBlock: blocks + ConvDownsampler)

NATImpl::NATImpl(const NATOptions& o) : options(o) {
  check_levels(o.depths(), o.num_heads(), o.dilations(), "NAT");
  const int64_t C = o.embed_dim();
  auto pe = std::make_shared<nn::Module>("PatchEmbed");  // ConvTokenizer: two 3x3/2 convs, LayerNorm
  tokenizer = pe->register_module("proj", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(o.in_chans(), C / 2, 3).stride(2).padding(1)),
                                                         nn::Conv2d(nn::Conv2dOptions(C / 2, C, 3).stride(2).padding(1))));
  patch_norm = pe->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  register_module("patch_embed", pe);
  auto layers = level_layer_options(o);
  for (auto& level : layers)
    for (auto& lo : level) lo.layer_scale(o.layer_scale());  // only NAT's layer has layer scale
  add_levels(layers, "levels", "NATBlock", 4,
             [](int64_t dim) { return nn::AnyModule(std::make_shared<ConvDownsamplerImpl>(dim)); });
  const size_t L = o.depths().size();
  finish(C << (L - 1), o.num_classes());
}

at::Tensor NATImpl::embed(const at::Tensor& x) {
  check_input(x, options.in_chans(), "NAT");
  return patch_norm(tokenizer->forward(x).permute({0, 2, 3, 1}));
}

void NATImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

// ---------------------------------------------------------------------------------------------------
// DiNAT_s: patch embedding, layers (BasicLayer: blocks + PatchMerging)

DiNATsImpl::DiNATsImpl(const DiNATsOptions& o) : options(o) {
  check_levels(o.depths(), o.num_heads(), o.dilations(), "DiNAT_s");
  const int64_t C = o.embed_dim(), p = o.patch_size();
  auto pe = std::make_shared<nn::Module>("PatchEmbed");
  patch_conv = pe->register_module("proj", nn::Conv2d(nn::Conv2dOptions(o.in_chans(), C, p).stride(p)));
  if (o.patch_norm()) patch_norm = pe->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  register_module("patch_embed", pe);
  // dinats.py PatchMerging: Swin's, pads odd maps.
  add_levels(level_layer_options(o), "layers", "BasicLayer", p,
             [](int64_t dim) { return nn::AnyModule(modules::PatchMerging(dim)); });
  const size_t L = o.depths().size();
  finish(C << (L - 1), o.num_classes());
}

at::Tensor DiNATsImpl::embed(const at::Tensor& x) {
  check_input(x, options.in_chans(), "DiNAT_s");
  const at::Tensor y = patch_conv_nhwc(patch_conv, x, options.patch_size());
  return patch_norm ? patch_norm(y) : y;
}

void DiNATsImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

// ---------------------------------------------------------------------------------------------------
// Isotropic: patch embedding, one stack of layers at a fixed resolution

NATIsotropicImpl::NATIsotropicImpl(const NATIsotropicOptions& o) : options(o) {
  const int64_t C = o.embed_dim(), p = o.patch_size();
  auto pe = std::make_shared<nn::Module>("PatchEmbed");
  patch_conv = pe->register_module("proj", nn::Conv2d(nn::Conv2dOptions(o.in_chans(), C, p).stride(p)));
  if (o.patch_norm()) patch_norm = pe->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  register_module("patch_embed", pe);
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), o.depth());
  auto stack = register_module("layers", nn::Sequential());
  std::vector<NATLayer> layers;
  for (int64_t j = 0; j < o.depth(); ++j) {
    const int64_t dil = j % 2 == 0 ? 1 : o.dilation();
    auto lo = layer_options(o, C, o.num_heads(), o.kernel_size(), dil, rates[static_cast<size_t>(j)]);
    if (o.layer() == IsotropicLayer::kGlobal) lo.global_size(o.img_size() / p);  // VisionTransformerLayer (MHSARPB)
    layers.emplace_back(lo);
    stack->push_back(layers.back());
  }
  add_level(std::move(layers), {}, {C, p, "layers"});
  finish(C, o.num_classes());
}

at::Tensor NATIsotropicImpl::embed(const at::Tensor& x) {
  check_input(x, options.in_chans(), "NAT isotropic");
  TORCH_CHECK(x.size(2) == options.img_size() && x.size(3) == options.img_size(), "NAT isotropic: built for ",
              options.img_size(), "x", options.img_size(), " input, got ", x.size(2), "x", x.size(3));
  const at::Tensor y = patch_conv_nhwc(patch_conv, x, options.patch_size());
  return patch_norm ? patch_norm(y) : y;
}

void NATIsotropicImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

// `top1`: the tables of classification/NAT.md and DiNAT.md; the repository is MIT-licensed.
PretrainedCfg nat_cfg(const std::string& url, int64_t size = 224, double top1 = 0) {
  PretrainedCfg c;
  c.input_size = {3, size, size};
  c.crop_pct = 0.875;
  c.interpolation = "bicubic";
  c.first_conv = "patch_embed.proj.0";
  c.classifier = "head";
  if (!url.empty()) c.weights(url, top1, "MIT");
  c.paper = "arXiv:2204.07143";
  return c;
}

// ImageNet-1k top-1 (%) of the released weights: classification/NAT.md and DiNAT.md (the 22k checkpoints
// publish none of their own).
double published_top1(const std::string& variant) {
  static const std::map<std::string, double> top1 = {
      {"nat_mini", 81.8},          {"nat_tiny", 83.2},           {"nat_small", 83.7},
      {"nat_base", 84.3},          {"dinat_mini", 81.8},         {"dinat_tiny", 82.7},
      {"dinat_small", 83.8},       {"dinat_base", 84.4},         {"dinat_large", 86.5},
      {"dinat_large_384", 87.2},   {"dinat_large_384_11x11", 87.3}, {"dinat_s_tiny", 81.8},
      {"dinat_s_small", 83.5},     {"dinat_s_base", 83.8},       {"dinat_s_large", 86.5},
      {"dinat_s_large_384", 87.4}, {"nat_isotropic_small", 80.0}, {"dinat_isotropic_small", 80.8},
      {"vitrpb_small", 81.2},      {"nat_isotropic_base", 81.6}, {"dinat_isotropic_base", 82.1},
      {"vitrpb_base", 82.5}};
  const auto it = top1.find(variant);
  return it == top1.end() ? 0.0 : it->second;
}

json dil(std::initializer_list<std::vector<int64_t>> l) { return json(std::vector<std::vector<int64_t>>(l)); }

std::vector<int64_t> alt(int64_t n, int64_t a, int64_t b) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i % 2 == 0 ? a : b);
  return v;
}


// NAT and DiNAT (dinat.py: `class DiNAT(NAT): pass`): one family.
void register_nat_and_dinat(Registry& r) {
  r.add_family(family_of<NAT, NATOptions>(
      "nat", "NAT / DiNAT, (dilated) neighborhood attention (Hassani et al., arXiv 2204.07143, 2209.15001)", nat_cfg("")));
  const std::string nat_url = "https://shi-labs.com/projects/nat/checkpoints/CLS/";
  const std::string dinat_url = "https://shi-labs.com/projects/dinat/checkpoints/";
  auto add = [&](const std::string& name, json args, const std::string& url, int64_t size = 224) {
    ModelVariant v;
    v.name = name;
    v.family = "nat";
    v.args = std::move(args);
    v.pretrained = nat_cfg(url, size, published_top1(name));
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
  auto with = [](json base, const json& extra) {
    base.update(extra);
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

// DiNAT_s (dinats.py): the Swin layout.
void register_dinat_s(Registry& r) {
  PretrainedCfg pc = nat_cfg("");
  pc.first_conv = "patch_embed.proj";
  pc.paper = "arXiv:2209.15001";
  r.add_family(family_of<DiNATs, DiNATsOptions>(
      "dinat_s", "DiNAT_s, dilated neighborhood attention in the Swin layout (arXiv 2209.15001)", pc));
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
    mv.pretrained.weights(base + v.file, published_top1(v.name), "MIT");
    mv.pretrained.input_size = {3, v.size, v.size};
    r.add_variant(mv);
  }
}

// Isotropic (isotropic.py): NAT / DiNAT layers or ViT-RPB global attention at one resolution.
void register_nat_isotropic(Registry& r) {
  PretrainedCfg pc = nat_cfg("");
  pc.first_conv = "patch_embed.proj";
  pc.paper = "arXiv:2209.15001";
  pc.fixed_input_size = true;
  r.add_family(family_of<NATIsotropic, NATIsotropicOptions>(
      "nat_isotropic", "isotropic NAT / DiNAT / ViT-RPB (DiNAT paper ablation, arXiv 2209.15001)", pc));
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
    mv.pretrained.weights(base + std::string(v.name) + "_in1k_224.pth", published_top1(v.name), "MIT");
    r.add_variant(mv);
  }
}

}  // namespace

void register_nat(Registry& r) {
  register_nat_and_dinat(r);
  register_dinat_s(r);
  register_nat_isotropic(r);
}

}  // namespace attnzoo::models
