#include <attnzoo/models/sigmoid_attn.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/sigmoid_attn.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::models {

namespace nn = torch::nn;
using json = nlohmann::json;
using namespace attnzoo::modules;

struct SigmoidViTImpl::Blocks {
  std::vector<SigmoidTransformerBlock> blocks;
};

namespace {

/// One block's options: the official TransformerBlock with the ViT's attention and Mlp settings.
SigmoidTransformerBlockOptions block_options(const SigmoidViTOptions& o, int64_t num_tokens, double drop_path) {
  const int64_t C = o.embed_dim();
  SigmoidTransformerBlockOptions b(C, o.num_heads());
  b.attn_fn()
      .attn_activ_fn(o.attn_activ_fn())
      .bias(o.bias())
      .qk_norm(o.qk_norm())
      .attn_drop(o.attn_drop_rate())
      .proj_drop(o.drop_rate())
      .attn_bias(o.attn_bias() == kLogNBias ? -std::log(static_cast<double>(num_tokens)) : o.attn_bias())
      .attn_temp(o.attn_temp())
      .norm_eps(1e-6)
      .qk_transform(o.qk_transform())
      .attn_logits_transform(o.attn_logits_transform());
  b.mlp_fn().hidden_features(static_cast<int64_t>(static_cast<double>(C) * o.mlp_ratio())).bias(o.bias()).drop(o.drop_rate());
  b.layer_scale_init(o.init_values()).norm_eps(1e-6).drop_path(drop_path);
  return b;
}

}  // namespace

SigmoidViTImpl::SigmoidViTImpl(const SigmoidViTOptions& o) : options(o), blocks_(std::make_shared<Blocks>()) {
  const int64_t C = o.embed_dim(), grid = o.img_size() / o.patch_size(), num_tokens = grid * grid + 1;
  TORCH_CHECK(grid > 0 && o.img_size() % o.patch_size() == 0, "sigmoid_vit: img_size ", o.img_size(),
              " is not a multiple of patch_size ", o.patch_size());
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, num_tokens, C}));
  patch_embed = register_module("patch_embed", PatchEmbed(PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C)));
  pos_drop = register_module("pos_drop", nn::Dropout(o.drop_rate()));
  const std::vector<double> dpr = drop_path_rates(o.drop_path_rate(), o.depth());
  nn::ModuleList blocks;
  for (int64_t i = 0; i < o.depth(); ++i) {
    SigmoidTransformerBlock b(block_options(o, num_tokens, dpr[static_cast<size_t>(i)]));
    blocks->push_back(b);
    blocks_->blocks.push_back(b);
  }
  register_module("blocks", blocks);
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C}).eps(1e-6)));
  num_features_ = C;
  trunc_normal_(pos_embed, 0.02);
  trunc_normal_(cls_token, 0.02);
  reset_classifier(o.num_classes());
  init_vit_weights(*this);  // init_weights_timm: Linear trunc_normal(.02) / 0; LayerNorm 1 / 0
}

void SigmoidViTImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  if (head) {
    torch::NoGradGuard ng;
    trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
}

at::Tensor SigmoidViTImpl::run(const at::Tensor& x, StageSink sink) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "sigmoid_vit: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  at::Tensor t = patch_embed(x);
  t = pos_drop(torch::cat({cls_token.expand({x.size(0), -1, -1}), t}, 1) + pos_embed);
  for (auto& b : blocks_->blocks) {
    t = b->forward(t);
    if (sink.add(t)) return {};
  }
  return norm(t);
}

at::Tensor SigmoidViTImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> SigmoidViTImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

at::Tensor SigmoidViTImpl::finish_features(const at::Tensor& last_stage_output) { return norm(last_stage_output); }

// ViT-style: timm norms every taken block's tokens.
at::Tensor SigmoidViTImpl::norm_intermediate(int64_t, const at::Tensor& output) { return norm(output); }

at::Tensor SigmoidViTImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.select(1, 0), pre_logits); }

std::vector<FeatureInfo> SigmoidViTImpl::feature_info() const {
  std::vector<FeatureInfo> info;
  for (int64_t i = 0; i < options.depth(); ++i)
    info.push_back({options.embed_dim(), options.patch_size(), "blocks." + std::to_string(i)});
  return info;
}

void register_sigmoid_vit(Registry& r) {
  PretrainedCfg cfg;
  cfg.input_size = {3, 224, 224};
  cfg.crop_pct = 0.9;
  cfg.interpolation = "bicubic";
  cfg.first_conv = "patch_embed.proj";
  cfg.classifier = "head";
  cfg.fixed_input_size = true;
  cfg.paper = "arXiv:2409.04431";
  r.add_family(family_of<SigmoidViT, SigmoidViTOptions>(
      "sigmoid_vit", "ViT with sigmoid attention, b = -log n, QK norm, LayerScale (Ramapuram et al., arXiv 2409.04431)", cfg));
  // timm's ViT sizes; no released weights (the authors publish code only).
  const struct { const char* name; int64_t dim, depth, heads; double dpr; } sizes[] = {
      {"sigmoid_vit_tiny_patch16_224", 192, 12, 3, 0.0},
      {"sigmoid_vit_small_patch16_224", 384, 12, 6, 0.1},
      {"sigmoid_vit_base_patch16_224", 768, 12, 12, 0.1},
      {"sigmoid_vit_large_patch16_224", 1024, 24, 16, 0.1},
  };
  for (const auto& s : sizes) {
    ModelVariant v;
    v.name = s.name;
    v.family = "sigmoid_vit";
    v.args = {{"embed_dim", s.dim}, {"depth", s.depth}, {"num_heads", s.heads}, {"drop_path_rate", s.dpr}};
    v.pretrained = cfg;
    r.add_variant(v);
  }
}

}  // namespace attnzoo::models
