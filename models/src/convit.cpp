#include <attnzoo/models/convit.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

namespace attnzoo::models {

namespace nn = torch::nn;

ConViTImpl::ConViTImpl(const ConViTOptions& o) : options(o) {
  const int64_t C = o.embed_dim();
  TORCH_CHECK(o.img_size() % o.patch_size() == 0, "ConViT: img_size ", o.img_size(), " is not a multiple of patch_size ",
              o.patch_size());
  // cls_token and pos_embed are the module's own parameters: they come first in the state dict.
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
  patch_embed = modules::PatchEmbed(modules::PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C));
  if (o.use_pos_embed()) pos_embed = register_parameter("pos_embed", torch::zeros({1, patch_embed->num_patches(), C}));
  register_module("patch_embed", patch_embed);
  const std::vector<double> dpr = modules::drop_path_rates(o.drop_path_rate(), o.depth());
  for (int64_t i = 0; i < o.depth(); ++i) {
    blocks->push_back(modules::ConViTBlock(modules::ConViTBlockOptions(C, o.num_heads())
                                               .mlp_ratio(o.mlp_ratio())
                                               .qkv_bias(o.qkv_bias())
                                               .qk_scale(o.qk_scale())
                                               .drop(o.drop_rate())
                                               .attn_drop(o.attn_drop_rate())
                                               .drop_path(dpr[static_cast<size_t>(i)])
                                               .norm_eps(o.norm_eps())
                                               .use_gpsa(i < o.local_up_to_layer())
                                               .locality_strength(o.locality_strength())));
  }
  register_module("blocks", blocks);
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C}).eps(o.norm_eps())));
  num_features_ = C;
  reset_classifier(o.num_classes());
  // Official init: trunc_normal(.02) for Linear / pos_embed / cls_token, LayerNorm 1/0, then the GPSA
  // local init (which overrides their v and pos_proj).
  modules::init_vit_weights(*this);
  modules::trunc_normal_(cls_token, 0.02);
  if (pos_embed.defined()) modules::trunc_normal_(pos_embed, 0.02);
  for (const auto& b : *blocks) {
    auto blk = b->as<modules::ConViTBlockImpl>();
    if (blk->gpsa) blk->gpsa->local_init();
  }
}

at::Tensor ConViTImpl::run(const at::Tensor& x, StageSink sink) {
  const int64_t B = x.size(0);
  at::Tensor t = patch_embed(x);
  if (pos_embed.defined()) t = t + pos_embed;
  const auto cls = cls_token.expand({B, -1, -1});
  int64_t u = 0;
  for (const auto& b : *blocks) {
    // The class token joins at the first non-local layer (never, if local_up_to_layer >= depth).
    if (u == options.local_up_to_layer()) t = torch::cat({cls, t}, 1);
    t = b->as<modules::ConViTBlockImpl>()->forward(t);
    if (sink.add(t)) return {};
    ++u;
  }
  return norm(t);
}

at::Tensor ConViTImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> ConViTImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> out;
  run(x, StageSink(&out, last_stage));
  return out;
}

at::Tensor ConViTImpl::finish_features(const at::Tensor& last_stage_output) { return norm(last_stage_output); }

// ViT-style: timm norms every taken block's tokens.
at::Tensor ConViTImpl::norm_intermediate(int64_t, const at::Tensor& output) { return norm(output); }

at::Tensor ConViTImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  at::Tensor pooled = x.select(1, 0);  // the class token (or the first patch token, as officially)
  return apply_head(pooled, pre_logits);
}

void ConViTImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  if (head) {  // the official _init_weights: trunc_normal(.02), bias 0
    torch::NoGradGuard ng;
    modules::trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
}

std::vector<FeatureInfo> ConViTImpl::feature_info() const {
  std::vector<FeatureInfo> f;
  for (int64_t i = 0; i < options.depth(); ++i)
    f.push_back({options.embed_dim(), options.patch_size(), "blocks." + std::to_string(i)});
  return f;
}

ConViTOptions convit_options_from_args(const nlohmann::json& args) {
  return options_from_args<ConViTOptions>(args, "convit");
}

void register_convit(Registry& r) {
  // timm's ConViT pretrained cfg (DeiT pipeline): crop 0.875, bicubic, ImageNet mean/std, fixed input size.
  PretrainedCfg cfg;
  cfg.first_conv = "patch_embed.proj";
  cfg.classifier = "head";
  cfg.fixed_input_size = true;
  cfg.paper = "arXiv:2103.10697";
  r.add_family(family_of<ConViT, ConViTOptions>("convit", "ConViT, gated positional self-attention (d'Ascoli et al. 2021, arXiv 2103.10697)", cfg));
  struct V {
    std::string name;
    int64_t heads;
    double top1;  // the convit README's table
  };
  for (const auto& [name, heads, top1] : {V{"convit_tiny", 4, 73.1}, V{"convit_small", 9, 81.3}, V{"convit_base", 16, 82.4}}) {
    ModelVariant v;
    v.name = name;
    v.family = "convit";
    // models.py: embed_dim = 48 * num_heads, local_up_to_layer 10, locality_strength 1, LayerNorm eps 1e-6.
    v.args = {{"num_heads", heads}, {"embed_dim", 48 * heads}, {"local_up_to_layer", 10}, {"locality_strength", 1.0},
              {"norm_layer", "functools.partial(torch.nn.LayerNorm, eps=1e-06)"}};
    v.pretrained = cfg;
    v.pretrained.weights("https://dl.fbaipublicfiles.com/convit/" + name + ".pth", top1, "Apache-2.0");
    r.add_variant(v);
  }
}

}  // namespace attnzoo::models
