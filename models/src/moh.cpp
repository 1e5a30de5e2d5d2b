#include <attnzoo/models/moh.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::models {

namespace nn = torch::nn;
using json = nlohmann::json;
using namespace attnzoo::modules;

std::vector<int64_t> parse_window_sizes(const json& j) {
  if (!j.is_array()) throw std::invalid_argument("a list of odd window sizes (null where a stage has none)");
  std::vector<int64_t> out;
  for (const auto& w : j) out.push_back(w.is_null() ? 0 : w.get<int64_t>());
  return out;
}

namespace {

void check_stage_lists(const TransNeXtOptions& o) {
  const size_t n = 4;
  TORCH_CHECK(o.embed_dims().size() == n && o.num_heads().size() == n && o.mlp_ratios().size() == n && o.depths().size() == n &&
                  o.sr_ratios().size() == n && o.shared_head().size() == n && o.routed_head().size() == n &&
                  o.window_size().size() == n,
              "moh_transnext: embed_dims, num_heads, mlp_ratios, depths, sr_ratios, window_size, shared_head and routed_head "
              "need one value per stage (4)");
  TORCH_CHECK(o.img_size() % 32 == 0 && o.img_size() >= 32, "moh_transnext: img_size must be a multiple of 32 (the official "
              "bias tables assume every stage halves the map exactly), got ", o.img_size());
  TORCH_CHECK(o.patch_size() >= 2, "moh_transnext: patch_size must be at least 2 (the stem's kernel is 2 patch_size - 1)");
}

/// The official _init_weights: Linear trunc_normal(.02) / zero bias; Conv2d normal(0, sqrt(2 / fan_out)) / zero bias;
/// LayerNorm ones / zeros.
void init_transnext_weights(nn::Module& root) {
  torch::NoGradGuard ng;
  for (auto& m : root.modules(/*include_self=*/false)) {
    if (auto* l = m->as<nn::Linear>()) {
      trunc_normal_(l->weight, 0.02);
      if (l->bias.defined()) l->bias.zero_();
    } else if (auto* c = m->as<nn::Conv2d>()) {
      const auto& k = c->options.kernel_size();
      const int64_t fan_out = k->at(0) * k->at(1) * c->options.out_channels() / c->options.groups();
      c->weight.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
      if (c->bias.defined()) c->bias.zero_();
    } else if (auto* n = m->as<nn::LayerNorm>()) {
      n->weight.fill_(1.0);
      n->bias.zero_();
    }
  }
}

}  // namespace

TransNeXtImpl::TransNeXtImpl(const TransNeXtOptions& o) : options(o) {
  check_stage_lists(o);
  const int64_t pretrain = o.pretrain_size() > 0 ? o.pretrain_size() : o.img_size();
  const auto dpr = drop_path_rates(o.drop_path_rate(), o.depths());
  for (size_t i = 0; i < 4; ++i) {
    const int64_t scale = int64_t{1} << (i + 2), side = o.img_size() / scale, sr = o.sr_ratios()[i];
    const int64_t key_side = o.fixed_pool_size() == 0 || sr == 1 ? o.img_size() / (scale * sr) : o.fixed_pool_size();
    auto [idx, table] = relative_position_cpb({side, side}, {key_side, key_side}, {pretrain / scale, pretrain / scale});
    relative_pos_index_.push_back(idx);
    relative_coords_table_.push_back(table);
    const std::string stage = std::to_string(i + 1);
    patch_embeds.push_back(register_module("patch_embed" + stage,
                                           TransNeXtPatchEmbed(TransNeXtPatchEmbedOptions()
                                                                   .patch_size(i == 0 ? 2 * o.patch_size() - 1 : 3)
                                                                   .stride(i == 0 ? o.patch_size() : 2)
                                                                   .in_chans(i == 0 ? o.in_chans() : o.embed_dims()[i - 1])
                                                                   .embed_dim(o.embed_dims()[i]))));
    nn::ModuleList stage_blocks;
    for (int64_t j = 0; j < o.depths()[i]; ++j)
      stage_blocks->push_back(TransNeXtBlock(TransNeXtBlockOptions(o.embed_dims()[i], o.num_heads()[i], {side, side})
                                                 .window_size(o.window_size()[i])
                                                 .mlp_ratio(o.mlp_ratios()[i])
                                                 .qkv_bias(o.qkv_bias())
                                                 .drop(o.drop_rate())
                                                 .attn_drop(o.attn_drop_rate())
                                                 .drop_path(dpr[i][static_cast<size_t>(j)])
                                                 .norm_eps(o.norm_eps())
                                                 .sr_ratio(sr)
                                                 .fixed_pool_size(o.fixed_pool_size())
                                                 .shared_head(o.shared_head()[i])
                                                 .routed_head(o.routed_head()[i])));
    blocks.push_back(register_module("block" + stage, stage_blocks));
    norms.push_back(register_module("norm" + stage, nn::LayerNorm(nn::LayerNormOptions({o.embed_dims()[i]}).eps(o.norm_eps()))));
  }
  num_features_ = o.embed_dims().back();
  reset_classifier(o.num_classes());
  init_transnext_weights(*this);
}

at::Tensor TransNeXtImpl::run(const at::Tensor& input, StageSink sink) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == options.in_chans() && input.size(2) == options.img_size() &&
                  input.size(3) == options.img_size(),
              "moh_transnext: built for [B, ", options.in_chans(), ", ", options.img_size(), ", ", options.img_size(),
              "] (its bias tables and masks are sized for img_size), got ", input.sizes());
  at::Tensor x = input;
  for (size_t i = 0; i < 4; ++i) {
    auto [tokens, H, W] = patch_embeds[i]->forward(x);
    const at::Tensor idx = relative_pos_index_[i].to(x.device()), table = relative_coords_table_[i].to(x.device());
    for (const auto& b : *blocks[i]) tokens = b->as<TransNeXtBlock>()->forward(tokens, H, W, idx, table);
    x = norms[i](tokens).reshape({x.size(0), H, W, -1}).permute({0, 3, 1, 2}).contiguous();
    if (sink.add(x)) return {};
  }
  return x;
}

at::Tensor TransNeXtImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

at::Tensor TransNeXtImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.mean({-2, -1}), pre_logits); }

std::vector<at::Tensor> TransNeXtImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

std::vector<FeatureInfo> TransNeXtImpl::feature_info() const {
  std::vector<FeatureInfo> out;
  for (size_t i = 0; i < 4; ++i) out.push_back({options.embed_dims()[i], int64_t{4} << i, "norm" + std::to_string(i + 1)});
  return out;
}

std::vector<std::string> TransNeXtImpl::no_weight_decay() const {
  // The official no_weight_decay_keywords: query_embedding, relative_pos_bias_local, cpb, temperature.
  return {"query_embedding", "relative_pos_bias_local", "temperature", "cpb_fc1.weight", "cpb_fc2.weight"};
}

at::Tensor TransNeXtImpl::auxiliary_loss() const {
  // engine.py: loss + 0.01 * sum(LOAD_BALANCING_LOSSES) / max(len, 1) over the routed attentions of the forward.
  if (!is_training()) return {};
  at::Tensor sum;
  int64_t n = 0;
  for (const auto& stage : blocks)
    for (const auto& b : *stage) {
      const at::Tensor l = b->as<TransNeXtBlock>()->load_balancing_loss();
      if (!l.defined()) continue;
      sum = sum.defined() ? sum + l : l;
      ++n;
    }
  if (n == 0) return {};
  return sum * (options.load_balance_weight() / static_cast<double>(n));
}

namespace {

PretrainedCfg transnext_cfg() {
  PretrainedCfg c;  // timm's _cfg as transnext.py uses it: 224 px, crop 0.9, bicubic, ImageNet mean / std
  c.input_size = {3, 224, 224};
  c.crop_pct = 0.9;
  c.interpolation = "bicubic";
  c.first_conv = "patch_embed1.proj";
  c.classifier = "head";
  c.paper = "arXiv:2410.11842";
  return c;
}

}  // namespace

void register_moh(Registry& r) {
  r.add_family(family_of<TransNeXt, TransNeXtOptions>(
      "moh_transnext", "MoH-TransNeXt, TransNeXt with mixture-of-head attention (Jin et al., arXiv 2410.11842)", transnext_cfg()));
  struct Size {
    const char* name;
    std::vector<int64_t> embed_dims, num_heads, depths, shared_head, routed_head;
  };
  const Size sizes[] = {
      {"moh_transnext_small_75", {72, 144, 288, 576}, {3, 6, 12, 24}, {5, 5, 22, 5}, {3, 6, 3, 4}, {0, 0, 6, 12}},
      {"moh_transnext_small_80", {72, 144, 288, 576}, {3, 6, 12, 24}, {5, 5, 22, 5}, {3, 6, 3, 8}, {0, 0, 6, 12}},
      {"moh_transnext_base_50", {96, 192, 384, 768}, {4, 8, 16, 32}, {5, 5, 23, 5}, {2, 2, 2, 4}, {2, 4, 6, 8}},
      {"moh_transnext_base_75", {96, 192, 384, 768}, {4, 8, 16, 32}, {5, 5, 23, 5}, {4, 8, 4, 5}, {0, 0, 8, 16}},
  };
  for (const auto& s : sizes) {
    ModelVariant v;
    v.name = s.name;
    v.family = "moh_transnext";
    v.args = {{"window_size", {3, 3, 3, nullptr}},
              {"patch_size", 4},
              {"embed_dims", s.embed_dims},
              {"num_heads", s.num_heads},
              {"mlp_ratios", {8, 8, 4, 4}},
              {"qkv_bias", true},
              {"norm_layer", "functools.partial(torch.nn.LayerNorm, eps=1e-06)"},
              {"depths", s.depths},
              {"sr_ratios", {8, 4, 2, 1}},
              {"shared_head", s.shared_head},
              {"routed_head", s.routed_head}};
    v.pretrained = transnext_cfg();
    r.add_variant(v);
  }
}

}  // namespace attnzoo::models
