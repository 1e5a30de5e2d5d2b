#include <attnzoo/models/agent.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/agent.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/patch_embed.h>
#include <attnzoo/modules/patch_merging.h>

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace attnzoo::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using json = nlohmann::json;
using namespace attnzoo::modules;

struct AgentDeiTImpl::Blocks {
  std::vector<AgentDeiTBlock> blocks;
};
struct AgentPVTImpl::Blocks {
  std::vector<std::vector<AgentPVTBlock>> stages;
};
struct AgentSwinImpl::Blocks {
  std::vector<std::vector<AgentSwinBlock>> stages;
  std::vector<PatchMerging> mergers;
};

std::vector<int64_t> parse_int_list(const json& j) {
  auto number = [](const std::string& s) {
    size_t used = 0;
    const int64_t v = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument("'" + s + "' is not a number");
    return v;
  };
  std::vector<int64_t> out;
  if (j.is_string()) {
    std::istringstream in(j.get<std::string>());
    for (std::string part; std::getline(in, part, '-');) out.push_back(number(part));
  } else if (j.is_number_integer()) {
    out.push_back(j.get<int64_t>());
  } else {
    for (const auto& e : j) out.push_back(e.is_string() ? number(e.get<std::string>()) : e.get<int64_t>());
  }
  return out;
}

namespace {

int64_t agent_num_at(const std::vector<int64_t>& agent_num, size_t i, const char* who) {
  TORCH_CHECK(i < agent_num.size(), who, ": agent_num needs an entry for index ", i);
  return agent_num[i];
}

void check_input(const at::Tensor& x, int64_t in_chans, const char* who) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == in_chans, who, ": expected input [B, ", in_chans, ", H, W], got ", x.sizes());
}

}  // namespace

void AgentClassifierImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  set_num_classes(num_classes);
  if (head) {
    torch::NoGradGuard ng;
    modules::trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
}

// ---------------------------------------------------------------------------------------------------
// Agent-DeiT

AgentDeiTImpl::AgentDeiTImpl(const AgentDeiTOptions& o) : options(o), blocks_(std::make_shared<Blocks>()) {
  const int64_t C = o.embed_dim(), window = o.img_size() / o.patch_size();
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, window * window + 1, C}));
  patch_embed = register_module("patch_embed", PatchEmbed(PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C)));
  const int64_t agent_layer = o.agent_layer() > 0 ? o.agent_layer() : o.depth();
  static const int stage_of[6] = {0, 1, 2, 2, 2, 3};  // agent_deit.py stage_num[i // 2]
  const std::vector<double> dpr = modules::drop_path_rates(o.drop_path_rate(), o.depth());
  nn::ModuleList blocks;
  for (int64_t i = 0; i < o.depth(); ++i) {
    AgentDeiTBlockOptions bo(C, o.num_heads());
    bo.attn_type(i < agent_layer ? AgentAttnType::Agent : AgentAttnType::Softmax)
        .mlp_ratio(o.mlp_ratio())
        .qkv_bias(o.qkv_bias())
        .drop(o.drop_rate())
        .attn_drop(o.attn_drop_rate())
        .drop_path(dpr[static_cast<size_t>(i)])
        .norm_eps(o.norm_eps())
        .window(window);
    if (i < agent_layer) {
      TORCH_CHECK(i / 2 < 6, "agent_deit: agent blocks exist for depth <= 12 only (the official stage table)");
      bo.agent_num(agent_num_at(o.agent_num(), stage_of[i / 2], "agent_deit"));
    }
    AgentDeiTBlock b(bo);
    blocks->push_back(b);
    blocks_->blocks.push_back(b);
  }
  register_module("blocks", blocks);
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C}).eps(o.norm_eps())));
  num_features_ = C;
  modules::trunc_normal_(pos_embed, 0.02);
  modules::trunc_normal_(cls_token, 0.02);
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);  // Linear trunc_normal(.02) / 0, LayerNorm 1 / 0; attention biases keep theirs
}

at::Tensor AgentDeiTImpl::run(const at::Tensor& x, StageSink sink) {
  check_input(x, options.in_chans(), "agent_deit");
  at::Tensor t = patch_embed(x);
  t = torch::cat({cls_token.expand({x.size(0), -1, -1}), t}, 1) + pos_embed;
  for (auto& b : blocks_->blocks) {
    t = b->forward(t);
    if (sink.add(t)) return {};
  }
  return norm(t);
}

at::Tensor AgentDeiTImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> AgentDeiTImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

at::Tensor AgentDeiTImpl::finish_features(const at::Tensor& last_stage_output) { return norm(last_stage_output); }

// ViT-style: timm norms every taken block's tokens.
at::Tensor AgentDeiTImpl::norm_intermediate(int64_t, const at::Tensor& output) { return norm(output); }

at::Tensor AgentDeiTImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.select(1, 0), pre_logits); }

std::vector<FeatureInfo> AgentDeiTImpl::feature_info() const {
  std::vector<FeatureInfo> info;
  for (int64_t i = 0; i < options.depth(); ++i) info.push_back({options.embed_dim(), options.patch_size(), "blocks." + std::to_string(i)});
  return info;
}

// ---------------------------------------------------------------------------------------------------
// Agent-PVT

AgentPVTImpl::AgentPVTImpl(const AgentPVTOptions& o) : options(o), blocks_(std::make_shared<Blocks>()) {
  const auto& E = o.embed_dims();
  const size_t S = E.size();
  if (o.num_stages() != static_cast<int64_t>(S)) throw std::invalid_argument("agent_pvt: num_stages must equal len(embed_dims)");
  TORCH_CHECK(o.depths().size() == S && o.num_heads().size() == S && o.mlp_ratios().size() == S &&
                  o.attn_type().size() >= S && o.agent_sr_ratios().size() >= S && o.sr_ratios().size() >= S,
              "agent_pvt: embed_dims, depths, num_heads, mlp_ratios, attn_type, sr_ratios, agent_sr_ratios need ", S, " stages");
  for (size_t i = 0; i < S; ++i) {
    // agent_pvt.py: stage i's PatchEmbed is built for img_size // (2^(i-1) * patch_size) with patch 2.
    const int64_t p = i == 0 ? o.patch_size() : 2;
    const int64_t img = i == 0 ? o.img_size() : o.img_size() / ((int64_t{1} << (i - 1)) * o.patch_size());
    const int64_t side = img / p;
    stage_sides_.push_back(side);
    pos_embeds.push_back(register_parameter("pos_embed" + std::to_string(i + 1), torch::zeros({1, side * side, E[i]})));
  }
  const auto dpr = modules::drop_path_rates(o.drop_path_rate(), o.depths());
  for (size_t i = 0; i < S; ++i) {
    const int64_t p = i == 0 ? o.patch_size() : 2, side = stage_sides_[i];
    patch_embeds.push_back(register_module(
        "patch_embed" + std::to_string(i + 1),
        PatchEmbed(PatchEmbedOptions(side * p, p, i == 0 ? o.in_chans() : E[i - 1], E[i]).norm(true).strict_img_size(false))));
    const char type = o.attn_type()[i];
    TORCH_CHECK(type == 'A' || type == 'B', "agent_pvt: attn_type letters must be A or B, got ", o.attn_type());
    nn::ModuleList blocks;
    blocks_->stages.emplace_back();
    for (int64_t j = 0; j < o.depths()[i]; ++j) {
      AgentPVTBlockOptions bo(E[i], side * side, o.num_heads()[i]);
      bo.attn_type(type == 'A' ? AgentAttnType::Agent : AgentAttnType::Softmax)
          .mlp_ratio(o.mlp_ratios()[i])
          .qkv_bias(o.qkv_bias())
          .drop(o.drop_rate())
          .attn_drop(o.attn_drop_rate())
          .drop_path(dpr[i][j])
          .norm_eps(o.norm_eps())
          .sr_ratio(o.sr_ratios()[i])
          .agent_sr_ratio(o.agent_sr_ratios()[i] - '0');
      if (type == 'A') bo.agent_num(agent_num_at(o.agent_num(), i, "agent_pvt"));
      AgentPVTBlock b(bo);
      blocks->push_back(b);
      blocks_->stages.back().push_back(b);
    }
    register_module("block" + std::to_string(i + 1), blocks);
  }
  num_features_ = E.back();
  for (auto& pe : pos_embeds) modules::trunc_normal_(pe, 0.02);
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);
}

at::Tensor AgentPVTImpl::run(const at::Tensor& x, StageSink sink) {
  check_input(x, options.in_chans(), "agent_pvt");
  const int64_t B = x.size(0), first = stage_sides_[0] * stage_sides_[0];
  at::Tensor y = x;
  for (size_t i = 0; i < patch_embeds.size(); ++i) {
    const int64_t p = patch_embeds[i]->options.patch_size();
    const int64_t H = y.size(2) / p, W = y.size(3) / p;
    at::Tensor t = patch_embeds[i](y);
    at::Tensor pos = pos_embeds[i];
    // agent_pvt.py _get_pos_embed: resized unless H * W equals stage 1's patch count (an identity resize for
    // later stages at the native size).
    if (H * W != first) {
      const int64_t s = stage_sides_[i];
      pos = F::interpolate(pos.reshape({1, s, s, -1}).permute({0, 3, 1, 2}),
                           F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false))
                .reshape({1, -1, H * W})
                .permute({0, 2, 1});
    }
    t = t + pos;
    for (auto& b : blocks_->stages[i]) t = b->forward(t, H, W);
    y = t.reshape({B, H, W, -1}).permute({0, 3, 1, 2}).contiguous();
    if (sink.add(y)) return {};
  }
  return y;
}

at::Tensor AgentPVTImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> AgentPVTImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

at::Tensor AgentPVTImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.mean({2, 3}), pre_logits); }

std::vector<FeatureInfo> AgentPVTImpl::feature_info() const {
  std::vector<FeatureInfo> info;
  for (size_t i = 0; i < options.embed_dims().size(); ++i)
    info.push_back({options.embed_dims()[i], options.patch_size() << i, "block" + std::to_string(i + 1)});
  return info;
}

// ---------------------------------------------------------------------------------------------------
// Agent-Swin

AgentSwinImpl::AgentSwinImpl(const AgentSwinOptions& o) : options(o), blocks_(std::make_shared<Blocks>()) {
  const int64_t C0 = o.embed_dim();
  const size_t S = o.depths().size();
  patch_embed = register_module(
      "patch_embed", PatchEmbed(PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C0).norm(o.patch_norm())));
  const int64_t res = o.img_size() / o.patch_size();
  const std::string& at = o.attn_type();
  TORCH_CHECK(at.size() >= S, "agent_swin: attn_type needs one letter per stage, got ", at);
  const auto dpr = modules::drop_path_rates(o.drop_path_rate(), o.depths());
  nn::ModuleList layers;
  for (size_t i = 0; i < S; ++i) {
    const int64_t dim = C0 << i, side = res >> i;
    auto layer = std::make_shared<nn::Module>("BasicLayer");
    nn::ModuleList blocks;
    blocks_->stages.emplace_back();
    // 'M' stages: the first n blocks agent, the rest window attention; n = the digits after the letters.
    std::string type(1, at[i]);
    if (at[i] == 'M') type += at.substr(S);
    for (int64_t j = 0; j < o.depths()[i]; ++j) {
      char t = type[0];
      if (t == 'M') t = j < std::stoll(type.substr(1)) ? 'A' : 'B';
      TORCH_CHECK(t == 'A' || t == 'B', "agent_swin: attn_type letters must be A, B or M<n>, got ", at);
      const int64_t ws = t == 'A' ? o.window_size() : std::max<int64_t>(7, o.window_size() / 8);
      AgentSwinBlock b(AgentSwinBlockOptions(dim, {side, side}, o.num_heads()[i])
                           .window_size(ws)
                           .shift_size(j % 2 == 0 ? 0 : ws / 2)
                           .mlp_ratio(o.mlp_ratio())
                           .qkv_bias(o.qkv_bias())
                           .drop(o.drop_rate())
                           .attn_drop(o.attn_drop_rate())
                           .drop_path(dpr[i][j])
                           .attn_type(t == 'A' ? AgentAttnType::Agent : AgentAttnType::Softmax)
                           .agent_num(agent_num_at(o.agent_num(), i, "agent_swin")));
      blocks->push_back(b);
      blocks_->stages.back().push_back(b);
    }
    layer->register_module("blocks", blocks);
    if (i + 1 < S) blocks_->mergers.push_back(layer->register_module("downsample", PatchMerging(dim)));
    layers->push_back(layer);
    sides_.push_back(side);
  }
  register_module("layers", layers);
  num_features_ = C0 << (S - 1);
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({num_features_})));
  reset_classifier(o.num_classes());
  modules::init_vit_weights(*this);
}

at::Tensor AgentSwinImpl::run(const at::Tensor& x, StageSink sink) {
  check_input(x, options.in_chans(), "agent_swin");
  const int64_t B = x.size(0);
  at::Tensor t = patch_embed(x);
  for (size_t i = 0; i < blocks_->stages.size(); ++i) {
    for (auto& b : blocks_->stages[i]) t = b->forward(t);
    const int64_t s = sides_[i];
    if (sink.add(t.view({B, s, s, -1}).permute({0, 3, 1, 2}).contiguous())) return {};
    if (i < blocks_->mergers.size()) t = blocks_->mergers[i](t.view({B, s, s, -1})).flatten(1, 2);
  }
  const int64_t s = sides_.back();
  return norm(t).view({B, s, s, -1}).permute({0, 3, 1, 2});
}

at::Tensor AgentSwinImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> AgentSwinImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

// The final LayerNorm over the channels of the last stage's map.
at::Tensor AgentSwinImpl::finish_features(const at::Tensor& last_stage_output) {
  return norm(last_stage_output.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

at::Tensor AgentSwinImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.mean({2, 3}), pre_logits); }

std::vector<FeatureInfo> AgentSwinImpl::feature_info() const {
  std::vector<FeatureInfo> info;
  for (size_t i = 0; i < options.depths().size(); ++i)
    info.push_back({options.embed_dim() << i, options.patch_size() << i, "layers." + std::to_string(i)});
  return info;
}

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

PretrainedCfg agent_cfg(const std::string& first_conv, int64_t size) {
  PretrainedCfg c;
  c.input_size = {3, size, size};
  c.crop_pct = 0.875;
  c.interpolation = "bicubic";
  c.first_conv = first_conv;
  c.classifier = "head";
  c.fixed_input_size = true;
  c.paper = "arXiv:2312.08874";
  return c;
}

// The released weights (agent_transformer/README.md): TsinghuaCloud file id, the config the authors name
// them by (our file name: <config>.pth) and the published top-1. The repository states no license.
struct AgentRelease {
  const char* variant;
  const char* cloud_id;
  const char* config;
  double top1;
};
constexpr AgentRelease kAgentReleases[] = {
    {"agent_deit_tiny", "57e0904221824ee7b7af", "agent_deit_t", 74.9},
    {"agent_deit_small", "fdd43304372541db8ea7", "agent_deit_s", 80.5},
    {"agent_deit_small_448", "a228f86241c445f1969b", "agent_deit_s_448", 83.1},
    {"agent_deit_base", "5115f15fdd7e4ab58fbc", "agent_deit_b", 82.0},
    {"agent_pvt_tiny", "13fdf0e0a7c5498c934f", "agent_pvt_t", 78.4},
    {"agent_pvt_small", "36b8be9a8863456685a3", "agent_pvt_s", 82.2},
    {"agent_pvt_medium", "4d00ecacf18b45f9b88c", "agent_pvt_m", 83.4},
    {"agent_pvt_medium_256", "654df734121643b19c52", "agent_pvt_m_256", 83.8},
    {"agent_pvt_large", "040cfe0cfbbe4762ad09", "agent_pvt_b", 83.7},  // "Agent-PVT-L", config agent_pvt_b.yaml
    {"agent_swin_tiny", "a2ddc1190c224f768a41", "agent_swin_t", 82.6},
    {"agent_swin_small", "f607172c9fea4d6e99bb", "agent_swin_s", 83.7},
    {"agent_swin_small_288", "09760394e93b4046a25e", "agent_swin_s_288", 84.1},
    {"agent_swin_base", "4fcd2d0114bb490483c3", "agent_swin_b", 84.0},
    {"agent_swin_base_384", "bb84ee9058954706a557", "agent_swin_b_384", 84.9},
};

void add_variant(Registry& r, const std::string& name, const std::string& family, json args, PretrainedCfg pc) {
  for (const AgentRelease& rel : kAgentReleases)
    if (name == rel.variant)
      pc.weights(std::string("https://cloud.tsinghua.edu.cn/f/") + rel.cloud_id + "/?dl=1", rel.top1,
                 "not stated by the authors", std::string(rel.config) + ".pth");
  ModelVariant v;
  v.name = name;
  v.family = family;
  v.args = std::move(args);
  v.pretrained = std::move(pc);
  r.add_variant(v);
}

void register_agent_deit(Registry& r) {
  r.add_family(family_of<AgentDeiT, AgentDeiTOptions>(
      "agent_deit", "Agent-DeiT, agent attention in DeiT (Han et al., arXiv 2312.08874)", agent_cfg("patch_embed.proj", 224)));
  auto deit = [&](const char* name, int64_t dim, int64_t heads, int64_t img, int64_t agents, double dpr, const json& extra) {
    json a = {{"img_size", img}, {"patch_size", 16}, {"embed_dim", dim}, {"depth", 12}, {"num_heads", heads},
              {"drop_path_rate", dpr}, {"agent_num", {agents, agents, agents, agents}}};
    a.update(extra);
    add_variant(r, name, "agent_deit", a, agent_cfg("patch_embed.proj", img));
  };
  deit("agent_deit_tiny", 192, 3, 224, 49, 0.0, json::object());
  deit("agent_deit_small", 384, 6, 224, 49, 0.1, json::object());
  deit("agent_deit_small_448", 384, 6, 448, 49, 0.1, json::object());
  deit("agent_deit_base", 768, 12, 224, 81, 0.3, {{"agent_layer", 4}});
}

void register_agent_pvt(Registry& r) {
  r.add_family(family_of<AgentPVT, AgentPVTOptions>(
      "agent_pvt", "Agent-PVT, agent attention in PVT (Han et al., arXiv 2312.08874)", agent_cfg("patch_embed1.proj", 224)));
  auto pvt = [&](const char* name, std::vector<int64_t> depths, int64_t img, double dpr) {
    add_variant(r, name, "agent_pvt",
                {{"img_size", img}, {"patch_size", 4}, {"embed_dims", {64, 128, 320, 512}}, {"num_heads", {1, 2, 5, 8}},
                 {"mlp_ratios", {8, 8, 4, 4}}, {"qkv_bias", true},
                 {"norm_layer", "functools.partial(torch.nn.LayerNorm, eps=1e-06)"}, {"depths", depths},
                 {"sr_ratios", {8, 4, 2, 1}}, {"drop_path_rate", dpr}, {"agent_num", {9, 16, 49, 49}},
                 {"attn_type", "AAAA"}, {"agent_sr_ratios", "1111"}},
                agent_cfg("patch_embed1.proj", img));
  };
  pvt("agent_pvt_tiny", {2, 2, 2, 2}, 224, 0.1);
  pvt("agent_pvt_small", {3, 4, 6, 3}, 224, 0.1);
  pvt("agent_pvt_medium", {3, 4, 18, 3}, 224, 0.3);
  pvt("agent_pvt_medium_256", {3, 4, 18, 3}, 256, 0.3);
  pvt("agent_pvt_large", {3, 8, 27, 3}, 224, 0.3);
}

void register_agent_swin(Registry& r) {
  r.add_family(family_of<AgentSwin, AgentSwinOptions>(
      "agent_swin", "Agent-Swin, agent attention in Swin (Han et al., arXiv 2312.08874)", agent_cfg("patch_embed.proj", 224)));
  auto swin = [&](const char* name, int64_t dim, std::vector<int64_t> depths, std::vector<int64_t> heads, int64_t img,
                  int64_t window, double dpr, const char* type) {
    add_variant(r, name, "agent_swin",
                {{"img_size", img}, {"embed_dim", dim}, {"depths", depths}, {"num_heads", heads},
                 {"window_size", window}, {"drop_path_rate", dpr}, {"agent_num", {9, 16, 49, 49}}, {"attn_type", type}},
                agent_cfg("patch_embed.proj", img));
  };
  swin("agent_swin_tiny", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 224, 56, 0.2, "AAAB");
  swin("agent_swin_small", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 224, 56, 0.3, "AABB");
  swin("agent_swin_small_288", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 288, 72, 0.3, "AABB");
  swin("agent_swin_base", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 224, 56, 0.5, "AAMB2");
  swin("agent_swin_base_384", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 384, 96, 0.5, "AAMB2");
}

}  // namespace

void register_agent(Registry& r) {
  register_agent_deit(r);
  register_agent_pvt(r);
  register_agent_swin(r);
}

}  // namespace attnzoo::models
