#include <attnzoo/models/volo.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <numeric>

namespace attnzoo::models {

namespace nn = torch::nn;
using json = nlohmann::json;
using namespace attnzoo::modules;

VOLOImpl::VOLOImpl(const VOLOOptions& o) : options(o) {
  const size_t S = o.layers().size();
  TORCH_CHECK(S > 0 && o.embed_dims().size() == S && o.num_heads().size() == S && o.downsamples().size() == S &&
                  o.outlook_attention().size() == S && o.mlp_ratios().size() == S,
              "volo: layers, embed_dims, num_heads, downsamples, outlook_attention and mlp_ratios need one entry per stage (",
              S, ")");
  TORCH_CHECK(!(o.return_dense() && o.return_mean()), "volo: cannot return both mean and dense");
  const int64_t C = o.embed_dims().back(), grid = o.img_size() / o.patch_size() / o.pooling_scale();
  TORCH_CHECK(grid > 0, "volo: img_size ", o.img_size(), " is smaller than patch_size * pooling_scale");
  // Own parameters in the official order (pos_embed, then cls_token); children after.
  pos_embed = register_parameter("pos_embed", torch::zeros({1, grid, grid, C}));
  if (!o.post_layers().empty()) cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
  patch_embed = register_module("patch_embed", VOLOPatchEmbed(VOLOPatchEmbedOptions()
                                                                  .stem_conv(true)
                                                                  .stem_stride(2)
                                                                  .patch_size(o.patch_size())
                                                                  .in_chans(o.in_chans())
                                                                  .hidden_dim(o.stem_hidden_dim())
                                                                  .embed_dim(o.embed_dims()[0])));
  pos_drop = register_module("pos_drop", nn::Dropout(o.drop_rate()));
  network = register_module("network", nn::ModuleList());
  const int64_t total = std::accumulate(o.layers().begin(), o.layers().end(), int64_t{0});
  int64_t before = 0;
  for (size_t i = 0; i < S; ++i) {
    nn::Sequential stage;
    for (int64_t j = 0; j < o.layers()[i]; ++j) {
      // volo.py: outlooker_blocks is never given drop_path_rate (0), and neither block builder forwards
      // norm_layer: their LayerNorms keep eps 1e-5.
      if (o.outlook_attention()[i]) {
        stage->push_back(Outlooker(OutlookerOptions(o.embed_dims()[i], o.out_kernel(), o.out_padding())
                                       .stride(o.out_stride())
                                       .num_heads(o.num_heads()[i])
                                       .mlp_ratio(o.mlp_ratios()[i])
                                       .qkv_bias(o.qkv_bias())
                                       .qk_scale(o.qk_scale())
                                       .attn_drop(o.attn_drop_rate())));
      } else {
        const double dpr = total > 1 ? o.drop_path_rate() * static_cast<double>(j + before) / static_cast<double>(total - 1) : 0.0;
        stage->push_back(VOLOTransformer(VOLOTransformerOptions(o.embed_dims()[i], o.num_heads()[i])
                                             .mlp_ratio(o.mlp_ratios()[i])
                                             .qkv_bias(o.qkv_bias())
                                             .qk_scale(o.qk_scale())
                                             .attn_drop(o.attn_drop_rate())
                                             .drop_path(dpr)));
      }
    }
    before += o.layers()[i];
    network->push_back(stage);
    if (o.downsamples()[i]) {
      TORCH_CHECK(i + 1 < S, "volo: downsamples[", i, "] after the last stage");
      network->push_back(VOLODownsample(o.embed_dims()[i], o.embed_dims()[i + 1], 2));
    }
  }
  if (!o.post_layers().empty()) {
    post_network = register_module("post_network", nn::ModuleList());
    for (const auto& kind : o.post_layers()) {
      TORCH_CHECK(kind == "ca", "volo: post_layers entries must be 'ca' (class attention), got '", kind, "'");
      post_network->push_back(ClassBlock(ClassBlockOptions(C, o.num_heads().back())
                                             .mlp_ratio(o.mlp_ratios().back())
                                             .qkv_bias(o.qkv_bias())
                                             .qk_scale(o.qk_scale())
                                             .attn_drop(o.attn_drop_rate())
                                             .norm_eps(o.norm_eps())));
    }
  }
  if (o.return_dense() && o.num_classes() > 0) aux_head = register_module("aux_head", nn::Linear(C, o.num_classes()));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C}).eps(o.norm_eps())));
  num_features_ = C;
  ClassifierImpl::reset_classifier(o.num_classes());
  trunc_normal_(pos_embed, 0.02);
  if (cls_token.defined()) trunc_normal_(cls_token, 0.02);
  init_vit_weights(*this);  // _init_weights: Linear trunc_normal(.02) / 0, LayerNorm 1 / 0
}

void VOLOImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  torch::NoGradGuard ng;
  if (head) {
    trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
  if (!options.return_dense()) return;
  if (aux_head) unregister_module("aux_head");
  aux_head = nullptr;
  if (num_classes > 0) {
    aux_head = register_module("aux_head", nn::Linear(num_features_, num_classes));
    trunc_normal_(aux_head->weight, 0.02);
    aux_head->bias.zero_();
  }
}

at::Tensor VOLOImpl::tokens(const at::Tensor& input, StageSink sink) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == options.in_chans(), "volo: expected input [B, ", options.in_chans(),
              ", H, W], got ", input.sizes());
  at::Tensor x = patch_embed(input).permute({0, 2, 3, 1});
  for (size_t idx = 0; idx < network->size(); ++idx) {
    if (idx == 2) x = pos_drop(x + pos_embed);  // after the outlookers and the downsampling, as volo.py (index 2)
    const auto& block = network->ptr(idx);
    if (auto down = std::dynamic_pointer_cast<VOLODownsampleImpl>(block)) {
      x = down->forward(x);
    } else {
      x = block->as<nn::Sequential>()->forward(x);
      if (sink.add(x.permute({0, 3, 1, 2}))) return {};
    }
  }
  return finish_features(x.permute({0, 3, 1, 2}));
}

at::Tensor VOLOImpl::finish_features(const at::Tensor& last_stage_output) {
  at::Tensor x = last_stage_output.permute({0, 2, 3, 1}).flatten(1, 2);
  if (post_network) {
    x = torch::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);
    for (const auto& block : *post_network) x = block->as<ClassBlock>()->forward(x);
  }
  return norm(x);
}

// timm's volo.py: `norm` applies to the outputs of network[2:] (the stages after the first downsampling), whose
// width is the final one; the outlooker stage before it is returned as it is.
at::Tensor VOLOImpl::norm_intermediate(int64_t stage, const at::Tensor& output) {
  if (network_index(stage) < 2) return output;
  return norm(output.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

// timm 1.0.31's volo.py after stop_early: the class-attention blocks and the norm follow the last block only, so
// the stage reached comes back as it is, in VOLO's channels-last layout.
at::Tensor VOLOImpl::finish_early(int64_t, const at::Tensor& output) { return output.permute({0, 2, 3, 1}); }

int64_t VOLOImpl::network_index(int64_t stage) const {
  const std::string module = feature_info().at(static_cast<size_t>(stage)).module;  // "network.N"
  return std::stoll(module.substr(module.find('.') + 1));
}

at::Tensor VOLOImpl::forward_features(const at::Tensor& x) { return tokens(x, {}); }

at::Tensor VOLOImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  if (options.return_mean()) return apply_head(x.mean(1), pre_logits);
  const at::Tensor cls = x.select(1, 0);
  if (pre_logits || !head) return cls;
  at::Tensor logits = head(cls);
  if (options.return_dense() && aux_head)  // token labelling's inference rule
    logits = logits + 0.5 * std::get<0>(aux_head(x.narrow(1, 1, x.size(1) - 1)).max(1));
  return logits;
}

std::vector<at::Tensor> VOLOImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> stages;
  tokens(x, StageSink(&stages, last_stage));
  return stages;
}

std::vector<FeatureInfo> VOLOImpl::feature_info() const {
  std::vector<FeatureInfo> info;
  int64_t reduction = options.patch_size();
  size_t idx = 0;
  for (size_t i = 0; i < options.layers().size(); ++i) {
    info.push_back({options.embed_dims()[i], reduction, "network." + std::to_string(idx++)});
    if (options.downsamples()[i]) {
      reduction *= 2;
      ++idx;
    }
  }
  return info;
}

namespace {

struct VOLORelease {
  const char* variant;
  int64_t img;
  const char* file;
  double top1;
};
// README.md of sail-sg/volo (release volo_1).
constexpr VOLORelease kReleases[] = {
    {"volo_d1_224", 224, "d1_224_84.2.pth.tar", 84.2},   {"volo_d1_384", 384, "d1_384_85.2.pth.tar", 85.2},
    {"volo_d2_224", 224, "d2_224_85.2.pth.tar", 85.2},   {"volo_d2_384", 384, "d2_384_86.0.pth.tar", 86.0},
    {"volo_d3_224", 224, "d3_224_85.4.pth.tar", 85.4},   {"volo_d3_448", 448, "d3_448_86.3.pth.tar", 86.3},
    {"volo_d4_224", 224, "d4_224_85.7.pth.tar", 85.7},   {"volo_d4_448", 448, "d4_448_86.79.pth.tar", 86.8},
    {"volo_d5_224", 224, "d5_224_86.10.pth.tar", 86.1},  {"volo_d5_448", 448, "d5_448_87.0.pth.tar", 87.0},
    {"volo_d5_512", 512, "d5_512_87.07.pth.tar", 87.1},
};

PretrainedCfg volo_cfg(int64_t img, double crop_pct) {
  PretrainedCfg c;
  c.input_size = {3, img, img};
  c.crop_pct = crop_pct;
  c.interpolation = "bicubic";
  c.first_conv = "patch_embed.conv.0";
  c.classifier = "head";
  c.fixed_input_size = true;
  c.paper = "arXiv:2106.13112";
  return c;
}

}  // namespace

void register_volo(Registry& r) {
  r.add_family(family_of<VOLO, VOLOOptions>("volo", "VOLO, Vision Outlooker (Yuan et al., arXiv 2106.13112)", volo_cfg(224, 0.96)));
  struct Size {
    const char* name;
    std::vector<int64_t> layers, dims, heads;
    double mlp_ratio;
    int64_t stem;
    double crop;  // volo.py default_cfgs: 'volo' 0.96 (d1-d3), 'volo_large' 1.15 (d4, d5)
  };
  const Size sizes[] = {
      {"volo_d1", {4, 4, 8, 2}, {192, 384, 384, 384}, {6, 12, 12, 12}, 3, 64, 0.96},
      {"volo_d2", {6, 4, 10, 4}, {256, 512, 512, 512}, {8, 16, 16, 16}, 3, 64, 0.96},
      {"volo_d3", {8, 8, 16, 4}, {256, 512, 512, 512}, {8, 16, 16, 16}, 3, 64, 0.96},
      {"volo_d4", {8, 8, 16, 4}, {384, 768, 768, 768}, {12, 16, 16, 16}, 3, 64, 1.15},
      {"volo_d5", {12, 12, 20, 4}, {384, 768, 768, 768}, {12, 16, 16, 16}, 4, 128, 1.15},
  };
  for (const auto& rel : kReleases) {
    const std::string variant = rel.variant;
    for (const auto& s : sizes) {
      if (variant.rfind(s.name, 0) != 0) continue;
      ModelVariant v;
      v.name = variant;
      v.family = "volo";
      v.args = {{"layers", s.layers},   {"embed_dims", s.dims}, {"num_heads", s.heads}, {"mlp_ratios", std::vector<double>(4, s.mlp_ratio)},
                {"img_size", rel.img},  {"stem_hidden_dim", s.stem}};
      v.pretrained = volo_cfg(rel.img, s.crop);
      v.pretrained.weights(std::string("https://github.com/sail-sg/volo/releases/download/volo_1/") + rel.file, rel.top1,
                           "Apache-2.0 (the repository's license; the README states none for the weights)", rel.file);
      r.add_variant(v);
    }
  }
}

}  // namespace attnzoo::models
