#include <attnzoo/models/biformer_stl.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/biformer_stl.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/norm.h>

#include <torch/torch.h>

namespace attnzoo::models {

namespace nn = torch::nn;

namespace {

nn::AnyModule make_norm(const std::string& kind, int64_t C) {
  if (kind.find("BatchNorm2d") != std::string::npos) return nn::AnyModule(modules::BatchNorm2d(C));
  if (kind.find("LayerNorm2d") != std::string::npos) return nn::AnyModule(modules::LayerNorm2d(C));
  throw std::invalid_argument("biformer_stl: norm_layer must be BatchNorm2d or LayerNorm2d, got '" + kind + "'");
}

}  // namespace

BiFormerSTLImpl::BiFormerSTLImpl(const BiFormerSTLOptions& o) : options(o) {
  const auto& E = o.embed_dim();
  for (auto n : {o.depth().size(), E.size(), o.mlp_ratios().size(), o.n_wins().size(), o.topks().size()})
    TORCH_CHECK(n == 4, "biformer_stl: depth, embed_dim, mlp_ratios, n_wins and topks need 4 entries");
  nn::Sequential stem;
  stem->push_back(nn::Conv2d(nn::Conv2dOptions(o.in_chans(), E[0], 4).stride(4)));
  stem->push_back(make_norm(o.norm_layer(), E[0]));
  downsample_layers->push_back(stem);
  for (int i = 0; i < 3; ++i) {  // patch merging: norm -> conv 2x2/2
    nn::Sequential down;
    down->push_back(make_norm(o.norm_layer(), E[i]));
    down->push_back(nn::Conv2d(nn::Conv2dOptions(E[i], E[i + 1], 2).stride(2)));
    downsample_layers->push_back(down);
  }
  register_module("downsample_layers", downsample_layers);
  const auto rates = modules::drop_path_rates(o.drop_path_rate(), o.depth());
  for (int i = 0; i < 4; ++i) {
    nn::ModuleList blocks;
    blocks_.emplace_back();
    for (int64_t j = 0; j < o.depth()[i]; ++j) {
      const double dpr = rates[i][j];
      if (o.nchw_bra()) {
        modules::NchwBiFormerBlock b(modules::NchwBiFormerBlockOptions(E[i])
                                         .drop_path(dpr)
                                         .num_heads(E[i] / o.head_dim())
                                         .n_win(o.n_wins()[i])
                                         .qk_scale(o.qk_scale())
                                         .topk(o.topks()[i])
                                         .mlp_ratio(o.mlp_ratios()[i])
                                         .side_dwconv(o.side_dwconv()));
        blocks->push_back(b);
        blocks_.back().emplace_back(b);
        continue;
      }
      modules::BiFormerBlock b(modules::BiFormerBlockOptions(E[i])
                                                   .drop_path(dpr)
                                                   .num_heads(E[i] / o.head_dim())
                                                   .n_win(o.n_wins()[i])
                                                   .qk_dim(E[i])
                                                   .qk_scale(o.qk_scale())
                                                   .topk(o.topks()[i])
                                                   .kv_downsample_mode(modules::KvDownsampleMode::Identity)  // the BRA default here
                                                   .mlp_ratio(o.mlp_ratios()[i])
                                                   .side_dwconv(o.side_dwconv())
                                                   .before_attn_dwconv(0)  // no conv position embedding
                                                   .mlp_dwconv_slot(false));
      blocks->push_back(b);
      blocks_.back().emplace_back(b);
    }
    auto stage = std::make_shared<nn::Module>("BasicLayer");  // keys stages.{i}.blocks.{j}
    stage->register_module("blocks", blocks);
    stages->push_back(stage);
  }
  register_module("stages", stages);
  auto final_norm = make_norm(o.pre_head_norm_layer().empty() ? o.norm_layer() : o.pre_head_norm_layer(), E[3]);
  norm = register_module("norm", final_norm.ptr());
  num_features_ = E[3];
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);
}

at::Tensor BiFormerSTLImpl::apply(const std::shared_ptr<nn::Module>& m, const at::Tensor& x) const {
  if (auto* bn = m->as<modules::BatchNorm2d>()) return bn->forward(x);
  return m->as<modules::LayerNorm2d>()->forward(x);
}

std::vector<at::Tensor> BiFormerSTLImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "biformer_stl: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  std::vector<at::Tensor> out;
  StageSink sink(&out, last_stage);
  at::Tensor y = x;
  for (size_t i = 0; i < 4; ++i) {
    y = downsample_layers[i]->as<nn::Sequential>()->forward(y);
    for (auto& b : blocks_[i]) y = b.forward(y);
    if (sink.add(y)) break;
  }
  return out;
}

at::Tensor BiFormerSTLImpl::forward_features(const at::Tensor& x) { return finish_features(forward_stages(x, -1).back()); }

at::Tensor BiFormerSTLImpl::finish_features(const at::Tensor& last_stage_output) { return apply(norm, last_stage_output); }

at::Tensor BiFormerSTLImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.mean({2, 3}), pre_logits); }

void BiFormerSTLImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> BiFormerSTLImpl::feature_info() const {
  return hierarchical_feature_info(options.embed_dim(), 4, "stages.");
}

namespace {

// Both classes (BiFormerSTL, nchwBiFormerSTL) take the same constructor arguments.
// `share`: the README's OneDrive link of the released weights (82.7 % top-1 for both; MIT).
void register_stl_family(Registry& r, const std::string& name, bool nchw, const std::string& description,
                         const std::vector<int64_t>& topks, const std::string& share) {
  PretrainedCfg cfg;
  cfg.first_conv = "downsample_layers.0.0";
  cfg.classifier = "head";
  cfg.paper = "arXiv:2303.08810";
  r.add_family(family_of<BiFormerSTL>(name, description, cfg, BiFormerSTLOptions().nchw_bra(nchw)));
  ModelVariant v;
  v.name = name;
  v.family = name;
  v.args = {{"depth", {2, 2, 6, 2}}, {"embed_dim", {96, 192, 384, 768}}, {"mlp_ratios", {4, 4, 4, 4}}, {"head_dim", 32},
            {"norm_layer", "nn.BatchNorm2d"}, {"n_wins", {7, 7, 7, 7}}, {"topks", topks}, {"side_dwconv", 5}};
  v.pretrained = cfg;
  v.pretrained.weights("https://api.onedrive.com/v1.0/shares/" + share + "/root/content", 82.7, "MIT", name + "_in1k.pth");
  r.add_variant(v);
}

}  // namespace

void register_biformer_stl(Registry& r) {
  register_stl_family(r, "biformer_stl", false,
                      "BiFormer-STL, BRA in the Swin-T layout (BiFormer paper ablation, arXiv 2303.08810)", {1, 4, 16, -2},
                      "s!AkBbczdRlZvChSf-m7ujkvx9lIQ1");
  register_stl_family(r, "biformer_stl_nchw", true,
                      "BiFormer-STL with the refactored NCHW BRA (ops/bra_nchw.py; not numerically the legacy BRA)",
                      {1, 4, 16, -1}, "s!AkBbczdRlZvChWYrKbWbMgqd2Ai0");
}

}  // namespace attnzoo::models
