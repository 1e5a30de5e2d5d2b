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

namespace attnzoo::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using json = nlohmann::json;
using namespace attnzoo::modules;

namespace {

// Pre-norm transformer block on tokens (agent_deit AgentBlock / deit Block, agent_pvt Block):
// x + DropPath(attn(norm1(x))); x + DropPath(mlp(norm2(x))). Keys norm1, attn, norm2, mlp.
class TokenBlockImpl : public nn::Module {
 public:
  enum class Kind { Agent, MHSA, SR };
  TokenBlockImpl(int64_t dim, double mlp_ratio, double eps, double drop, double drop_path, Kind kind,
                 std::shared_ptr<nn::Module> attention)
      : kind_(kind), drop_path_(drop_path) {
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(eps)));
    attn_ = register_module("attn", attention);
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(eps)));
    mlp = register_module("mlp", Mlp(MlpOptions(dim).hidden_features(static_cast<int64_t>(dim * mlp_ratio)).drop(drop)));
  }
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W) {
    const at::Tensor n = norm1(x);
    at::Tensor a;
    if (kind_ == Kind::Agent)
      a = attn_->as<AgentAttentionImpl>()->forward(n, H, W);
    else if (kind_ == Kind::MHSA)
      a = attn_->as<MultiHeadSelfAttentionImpl>()->forward(n);
    else
      a = attn_->as<SRAttentionImpl>()->forward(n, H, W);
    at::Tensor y = x + drop_path(a, drop_path_, is_training());
    return y + drop_path(mlp(norm2(y)), drop_path_, is_training());
  }
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Mlp mlp{nullptr};

 private:
  Kind kind_;
  double drop_path_;
  std::shared_ptr<nn::Module> attn_;
};

// agent_swin.py SwinTransformerBlock: (shifted) windows of agent ('A') or relative-bias window ('B')
// attention; the shift mask (persistent buffer attn_mask) is used by B blocks only.
class SwinBlockImpl : public nn::Module {
 public:
  SwinBlockImpl(int64_t dim, int64_t H, int64_t W, int64_t heads, int64_t window, int64_t shift, double mlp_ratio,
                bool qkv_bias, double drop, double attn_drop, double drop_path, int64_t agent_num, char type)
      : H_(H), W_(W), ws_(window), shift_(shift), drop_path_(drop_path), agent_(type == 'A') {
    if (std::min(H, W) <= ws_) {  // the window covers the map: no shift
      shift_ = 0;
      ws_ = std::min(H, W);
    }
    TORCH_CHECK(shift_ >= 0 && shift_ < ws_, "AgentSwin block: shift_size must be in [0, window)");
    TORCH_CHECK(H % ws_ == 0 && W % ws_ == 0, "AgentSwin block: the ", H, "x", W, " map is not a multiple of the window ",
                ws_, " (pick img_size / window_size so that every stage divides)");
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim})));
    if (agent_)
      attn_ = register_module("attn", AgentAttention(AgentAttentionOptions(dim, heads)
                                                         .flavour("swin")
                                                         .qkv_bias(qkv_bias)
                                                         .agent_num(agent_num)
                                                         .window(ws_)
                                                         .attn_drop(attn_drop)
                                                         .proj_drop(drop))
                                                         .ptr());
    else
      attn_ = register_module("attn", SwinWindowAttention(dim, ws_, heads, qkv_bias).ptr());
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim})));
    mlp = register_module("mlp", Mlp(MlpOptions(dim).hidden_features(static_cast<int64_t>(dim * mlp_ratio)).drop(drop)));
    if (shift_ > 0) {
      // Regions of the rolled map: attention across region borders gets -100.
      at::Tensor img = torch::zeros({H, W}, torch::kLong);
      const int64_t hs[4] = {0, H - ws_, H - shift_, H}, wsl[4] = {0, W - ws_, W - shift_, W};
      int64_t cnt = 0;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) img.slice(0, hs[a], hs[a + 1]).slice(1, wsl[b], wsl[b + 1]).fill_(cnt++);
      const at::Tensor win = partition(img.view({1, H, W, 1}).to(torch::kFloat)).view({-1, ws_ * ws_});
      at::Tensor mask = win.unsqueeze(1) - win.unsqueeze(2);
      mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0);
      attn_mask = register_buffer("attn_mask", mask);
    }
  }
  at::Tensor partition(const at::Tensor& x) const {  // [B, H, W, C] -> [B * nW, ws, ws, C]
    const int64_t B = x.size(0), C = x.size(3);
    return x.view({B, x.size(1) / ws_, ws_, x.size(2) / ws_, ws_, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws_, ws_, C});
  }
  at::Tensor forward(const at::Tensor& x) {
    const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
    TORCH_CHECK(L == H_ * W_, "AgentSwin block: input feature has wrong size (", L, " tokens for ", H_, "x", W_, ")");
    at::Tensor y = norm1(x).view({B, H_, W_, C});
    if (shift_ > 0) y = torch::roll(y, {-shift_, -shift_}, {1, 2});
    at::Tensor win = partition(y).view({-1, ws_ * ws_, C});
    win = agent_ ? attn_->as<AgentAttentionImpl>()->forward(win)
                 : attn_->as<SwinWindowAttentionImpl>()->forward(win, attn_mask);
    y = win.view({B, H_ / ws_, W_ / ws_, ws_, ws_, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, H_, W_, C});
    if (shift_ > 0) y = torch::roll(y, {shift_, shift_}, {1, 2});
    at::Tensor out = x + drop_path(y.view({B, L, C}), drop_path_, is_training());
    return out + drop_path(mlp(norm2(out)), drop_path_, is_training());
  }
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Mlp mlp{nullptr};
  at::Tensor attn_mask;

 private:
  int64_t H_, W_, ws_, shift_;
  double drop_path_;
  bool agent_;
  std::shared_ptr<nn::Module> attn_;
};

}  // namespace

struct AgentModelImpl::Impl {
  // deit
  PatchEmbed patch_embed{nullptr};
  at::Tensor cls_token, pos_embed;
  nn::LayerNorm norm{nullptr};
  // pvt
  std::vector<PatchEmbed> patch_embeds;
  std::vector<at::Tensor> pos_embeds;
  std::vector<int64_t> stage_sides;  // the side each pos_embed{i} was built for
  // all
  std::vector<std::vector<std::shared_ptr<TokenBlockImpl>>> token_blocks;
  std::vector<std::vector<std::shared_ptr<SwinBlockImpl>>> swin_blocks;
  std::vector<PatchMerging> mergers;
  std::vector<int64_t> sides;  // swin: stage resolutions
  std::vector<FeatureInfo> info;
};

AgentModelImpl::AgentModelImpl(const AgentModelOptions& o) : options(o), impl_(std::make_shared<Impl>()) {
  auto& I = *impl_;
  const std::string& arch = o.arch();
  TORCH_CHECK(arch == "deit" || arch == "pvt" || arch == "swin", "agent: unknown arch ", arch);
  int64_t total = 0;
  for (auto d : o.depths()) total += d;
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), total);
  auto dpr = [&](int64_t i) { return rates.at(static_cast<size_t>(i)); };
  auto agent_num = [&](size_t i) {
    TORCH_CHECK(i < o.agent_num().size(), "agent: agent_num needs an entry for index ", i);
    return o.agent_num()[i];
  };

  if (arch == "deit") {
    const int64_t C = o.embed_dims().at(0), depth = o.depths().at(0), heads = o.num_heads().at(0);
    const int64_t window = o.img_size() / o.patch_size();
    I.cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
    I.pos_embed = register_parameter("pos_embed", torch::zeros({1, window * window + 1, C}));
    I.patch_embed = register_module("patch_embed", PatchEmbed(PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C)));
    const int64_t agent_layer = o.agent_layer() > 0 ? o.agent_layer() : depth;
    static const int stage_of[6] = {0, 1, 2, 2, 2, 3};  // agent_deit.py stage_num[i // 2]
    nn::ModuleList blocks;
    I.token_blocks.emplace_back();
    for (int64_t i = 0; i < depth; ++i) {
      std::shared_ptr<nn::Module> attn;
      auto kind = TokenBlockImpl::Kind::MHSA;
      if (i < agent_layer) {
        TORCH_CHECK(i / 2 < 6, "agent_deit: agent blocks exist for depth <= 12 only (the official stage table)");
        attn = AgentAttention(AgentAttentionOptions(C, heads)
                                  .flavour("deit")
                                  .qkv_bias(o.qkv_bias())
                                  .agent_num(agent_num(stage_of[i / 2]))
                                  .window(window)
                                  .attn_drop(o.attn_drop_rate())
                                  .proj_drop(o.drop_rate()))
                   .ptr();
        kind = TokenBlockImpl::Kind::Agent;
      } else {
        attn = MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, heads).qkv_bias(o.qkv_bias())).ptr();
      }
      auto b = std::make_shared<TokenBlockImpl>(C, o.mlp_ratios().at(0), o.norm_eps(), o.drop_rate(), dpr(i), kind, attn);
      blocks->push_back(b);
      I.token_blocks.back().push_back(b);
      I.info.push_back({C, o.patch_size(), "blocks." + std::to_string(i)});
    }
    register_module("blocks", blocks);
    I.norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C}).eps(o.norm_eps())));
    num_features_ = C;
    modules::trunc_normal_(I.pos_embed, 0.02);
    modules::trunc_normal_(I.cls_token, 0.02);
  } else if (arch == "pvt") {
    const auto& E = o.embed_dims();
    const size_t S = E.size();
    TORCH_CHECK(o.depths().size() == S && o.num_heads().size() == S && o.mlp_ratios().size() == S &&
                    o.attn_type().size() >= S && o.agent_sr_ratios().size() >= S && o.sr_ratios().size() >= S,
                "agent_pvt: embed_dims, depths, num_heads, mlp_ratios, attn_type, sr_ratios, agent_sr_ratios need ", S,
                " stages");
    int64_t cur = 0;
    for (size_t i = 0; i < S; ++i) {
      // agent_pvt.py: stage i's PatchEmbed is built for img_size // (2^(i-1) * patch_size) with patch 2.
      const int64_t p = i == 0 ? o.patch_size() : 2;
      const int64_t img = i == 0 ? o.img_size() : o.img_size() / ((int64_t{1} << (i - 1)) * o.patch_size());
      const int64_t side = img / p;
      I.stage_sides.push_back(side);
      I.pos_embeds.push_back(register_parameter("pos_embed" + std::to_string(i + 1), torch::zeros({1, side * side, E[i]})));
    }
    for (size_t i = 0; i < S; ++i) {
      const int64_t p = i == 0 ? o.patch_size() : 2;
      const int64_t side = I.stage_sides[i];
      I.patch_embeds.push_back(register_module(
          "patch_embed" + std::to_string(i + 1),
          PatchEmbed(PatchEmbedOptions(side * p, p, i == 0 ? o.in_chans() : E[i - 1], E[i]).norm(true).strict_img_size(false))));
      nn::ModuleList blocks;
      I.token_blocks.emplace_back();
      const char type = o.attn_type()[i];
      TORCH_CHECK(type == 'A' || type == 'B', "agent_pvt: attn_type letters must be A or B, got ", o.attn_type());
      for (int64_t j = 0; j < o.depths()[i]; ++j, ++cur) {
        std::shared_ptr<nn::Module> attn;
        auto kind = TokenBlockImpl::Kind::SR;
        if (type == 'A') {
          attn = AgentAttention(AgentAttentionOptions(E[i], o.num_heads()[i])
                                    .flavour("pvt")
                                    .qkv_bias(o.qkv_bias())
                                    .agent_num(agent_num(i))
                                    .window(side)
                                    .sr_ratio(o.agent_sr_ratios()[i] - '0')
                                    .attn_drop(o.attn_drop_rate())
                                    .proj_drop(o.drop_rate()))
                     .ptr();
          kind = TokenBlockImpl::Kind::Agent;
        } else {
          attn = SRAttention(E[i], o.num_heads()[i], o.qkv_bias(), o.sr_ratios()[i]).ptr();
        }
        auto b = std::make_shared<TokenBlockImpl>(E[i], o.mlp_ratios()[i], o.norm_eps(), o.drop_rate(), dpr(cur), kind, attn);
        blocks->push_back(b);
        I.token_blocks.back().push_back(b);
      }
      register_module("block" + std::to_string(i + 1), blocks);
      I.info.push_back({E[i], o.patch_size() << i, "block" + std::to_string(i + 1)});
    }
    num_features_ = E.back();
    for (auto& p : I.pos_embeds) modules::trunc_normal_(p, 0.02);
  } else {  // swin
    const int64_t C0 = o.embed_dims().at(0);
    const size_t S = o.depths().size();
    I.patch_embed = register_module(
        "patch_embed", PatchEmbed(PatchEmbedOptions(o.img_size(), o.patch_size(), o.in_chans(), C0).norm(o.patch_norm())));
    const int64_t res = o.img_size() / o.patch_size();
    nn::ModuleList layers;
    int64_t cur = 0;
    const std::string& at = o.attn_type();
    TORCH_CHECK(at.size() >= S, "agent_swin: attn_type needs one letter per stage, got ", at);
    for (size_t i = 0; i < S; ++i) {
      const int64_t dim = C0 << i, side = res >> i;
      auto layer = std::make_shared<nn::Module>("BasicLayer");
      nn::ModuleList blocks;
      I.swin_blocks.emplace_back();
      // 'M' stages: the first n blocks agent, the rest window attention; n = the digits after the letters.
      std::string type(1, at[i]);
      if (at[i] == 'M') type += at.substr(S);
      for (int64_t j = 0; j < o.depths()[i]; ++j, ++cur) {
        char t = type[0];
        if (t == 'M') t = j < std::stoll(type.substr(1)) ? 'A' : 'B';
        TORCH_CHECK(t == 'A' || t == 'B', "agent_swin: attn_type letters must be A, B or M<n>, got ", at);
        const int64_t ws = t == 'A' ? o.window_size() : std::max<int64_t>(7, o.window_size() / 8);
        auto b = std::make_shared<SwinBlockImpl>(dim, side, side, o.num_heads()[i], ws, j % 2 == 0 ? 0 : ws / 2,
                                                 o.mlp_ratios().at(0), o.qkv_bias(), o.drop_rate(), o.attn_drop_rate(),
                                                 dpr(cur), agent_num(i), t);
        blocks->push_back(b);
        I.swin_blocks.back().push_back(b);
      }
      layer->register_module("blocks", blocks);
      if (i + 1 < S) I.mergers.push_back(layer->register_module("downsample", PatchMerging(dim)));
      layers->push_back(layer);
      I.sides.push_back(side);
      I.info.push_back({dim, o.patch_size() << i, "layers." + std::to_string(i)});
    }
    register_module("layers", layers);
    num_features_ = C0 << (S - 1);
    I.norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({num_features_})));
  }
  reset_classifier(o.num_classes());
  // Linear trunc_normal(.02) / bias 0, LayerNorm 1 / 0; the attention biases keep their own init.
  modules::init_vit_weights(*this);
}

at::Tensor AgentModelImpl::run(const at::Tensor& x, std::vector<at::Tensor>* feats) {
  auto& I = *impl_;
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.in_chans(), "agent_", o.arch(), ": expected input [B, ", o.in_chans(),
              ", H, W], got ", x.sizes());
  const int64_t B = x.size(0);
  if (o.arch() == "deit") {
    at::Tensor t = I.patch_embed(x);
    t = torch::cat({I.cls_token.expand({B, -1, -1}), t}, 1) + I.pos_embed;
    for (auto& b : I.token_blocks[0]) {
      t = b->forward(t, 0, 0);
      if (feats) feats->push_back(t);
    }
    return I.norm(t);
  }
  if (o.arch() == "pvt") {
    at::Tensor y = x;
    const int64_t first = I.stage_sides[0] * I.stage_sides[0];
    for (size_t i = 0; i < I.patch_embeds.size(); ++i) {
      const int64_t p = I.patch_embeds[i]->options.patch_size();
      const int64_t H = y.size(2) / p, W = y.size(3) / p;
      at::Tensor t = I.patch_embeds[i](y);
      at::Tensor pos = I.pos_embeds[i];
      // agent_pvt.py _get_pos_embed: resized unless H * W equals stage 1's patch count (an identity resize for
      // later stages at the native size).
      if (H * W != first) {
        const int64_t s = I.stage_sides[i];
        pos = F::interpolate(pos.reshape({1, s, s, -1}).permute({0, 3, 1, 2}),
                             F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false))
                  .reshape({1, -1, H * W})
                  .permute({0, 2, 1});
      }
      t = t + pos;
      for (auto& b : I.token_blocks[i]) t = b->forward(t, H, W);
      y = t.reshape({B, H, W, -1}).permute({0, 3, 1, 2}).contiguous();
      if (feats) feats->push_back(y);
    }
    return y;
  }
  at::Tensor t = I.patch_embed(x);
  for (size_t i = 0; i < I.swin_blocks.size(); ++i) {
    for (auto& b : I.swin_blocks[i]) t = b->forward(t);
    const int64_t s = I.sides[i];
    if (feats) feats->push_back(t.view({B, s, s, -1}).permute({0, 3, 1, 2}).contiguous());
    if (i < I.mergers.size()) t = I.mergers[i](t.view({B, s, s, -1})).flatten(1, 2);
  }
  const int64_t s = I.sides.back();
  return I.norm(t).view({B, s, s, -1}).permute({0, 3, 1, 2});
}

at::Tensor AgentModelImpl::forward_features(const at::Tensor& x) { return run(x, nullptr); }

std::vector<at::Tensor> AgentModelImpl::forward_intermediates(const at::Tensor& x) {
  std::vector<at::Tensor> f;
  run(x, &f);
  return f;
}

at::Tensor AgentModelImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  const at::Tensor pooled = options.arch() == "deit" ? x.select(1, 0) : x.mean({2, 3});
  return apply_head(pooled, pre_logits);
}

void AgentModelImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  if (head) {
    torch::NoGradGuard ng;
    modules::trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
}

std::vector<FeatureInfo> AgentModelImpl::feature_info() const { return impl_->info; }

std::vector<std::string> AgentModelImpl::no_weight_decay() const {
  if (options.arch() == "deit") return {"pos_embed", "cls_token"};
  if (options.arch() == "swin") return {"relative_position_bias_table"};
  return {};
}

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

std::vector<int64_t> agent_nums(ArgReader& a, std::vector<int64_t> fallback) {
  // The official configs pass strings ("9-16-49-49".split('-')); accept numbers or numeric strings.
  if (!a.has("agent_num")) return a.get("agent_num", fallback);
  const json v = a.get<json>("agent_num");
  std::vector<int64_t> out;
  for (const auto& e : v) out.push_back(e.is_string() ? std::stoll(e.get<std::string>()) : e.get<int64_t>());
  return out;
}

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

void add_variant(Registry& r, const std::string& name, const std::string& family, json args, PretrainedCfg pc) {
  ModelVariant v;
  v.name = name;
  v.family = family;
  v.args = std::move(args);
  v.pretrained = std::move(pc);
  r.add_variant(v);
}

}  // namespace

void register_agent(Registry& r) {
  {  // Agent-DeiT
    ModelFamily f;
    f.name = "agent_deit";
    f.description = "Agent-DeiT, agent attention in DeiT (Han et al., arXiv 2312.08874)";
    f.default_args = {{"img_size", 224},      {"patch_size", 16},       {"in_chans", 3},          {"num_classes", 1000},
                      {"embed_dim", 768},     {"depth", 12},            {"num_heads", 12},        {"mlp_ratio", 4.0},
                      {"qkv_bias", true},     {"representation_size", nullptr}, {"distilled", false},
                      {"drop_rate", 0.0},     {"attn_drop_rate", 0.0},  {"drop_path_rate", 0.0},  {"norm_layer", nullptr},
                      {"agent_num", {49, 49, 49, 49}}, {"agent_layer", -1}};
    f.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "agent_deit");
      AgentModelOptions o;
      o.arch("deit")
          .img_size(a.get("img_size", o.img_size()))
          .patch_size(a.get<int64_t>("patch_size", 16))
          .in_chans(a.get("in_chans", o.in_chans()))
          .num_classes(a.get("num_classes", o.num_classes()))
          .embed_dims({a.get<int64_t>("embed_dim", 768)})
          .depths({a.get<int64_t>("depth", 12)})
          .num_heads({a.get<int64_t>("num_heads", 12)})
          .mlp_ratios({a.get<double>("mlp_ratio", 4.0)})
          .qkv_bias(a.get("qkv_bias", true))
          .drop_rate(a.get("drop_rate", 0.0))
          .attn_drop_rate(a.get("attn_drop_rate", 0.0))
          .drop_path_rate(a.get("drop_path_rate", 0.0))
          .agent_num(agent_nums(a, o.agent_num()))
          .agent_layer(a.get<int64_t>("agent_layer", -1))
          .norm_eps(a.has("norm_layer") && !args.at("norm_layer").is_null()
                        ? layer_norm_eps(a.get<std::string>("norm_layer"), "agent_deit")
                        : 1e-6);
      if (a.get<bool>("distilled", false)) throw std::invalid_argument("agent_deit: distilled=True is not supported");
      if (!a.get<json>("representation_size", nullptr).is_null())
        throw std::invalid_argument("agent_deit: representation_size is not supported");
      a.ignore("norm_layer");
      a.finish();
      return AgentModel(o).ptr();
    };
    f.pretrained = agent_cfg("patch_embed.proj", 224);
    r.add_family(f);
    const json base = {{"patch_size", 16}};
    auto deit = [&](const char* name, int64_t dim, int64_t heads, int64_t img, int64_t agents, double dpr, json extra) {
      json a = {{"img_size", img}, {"patch_size", 16}, {"embed_dim", dim}, {"depth", 12}, {"num_heads", heads},
                {"drop_path_rate", dpr}, {"agent_num", {agents, agents, agents, agents}}};
      for (auto it = extra.begin(); it != extra.end(); ++it) a[it.key()] = it.value();
      add_variant(r, name, "agent_deit", a, agent_cfg("patch_embed.proj", img));
    };
    deit("agent_deit_tiny", 192, 3, 224, 49, 0.0, json::object());
    deit("agent_deit_small", 384, 6, 224, 49, 0.1, json::object());
    deit("agent_deit_small_448", 384, 6, 448, 49, 0.1, json::object());
    deit("agent_deit_base", 768, 12, 224, 81, 0.3, {{"agent_layer", 4}});
  }
  {  // Agent-PVT
    ModelFamily f;
    f.name = "agent_pvt";
    f.description = "Agent-PVT, agent attention in PVT (Han et al., arXiv 2312.08874)";
    f.default_args = {{"img_size", 224},        {"patch_size", 16},         {"in_chans", 3},
                      {"num_classes", 1000},    {"embed_dims", {64, 128, 256, 512}}, {"num_heads", {1, 2, 4, 8}},
                      {"mlp_ratios", {4, 4, 4, 4}}, {"qkv_bias", false},    {"qk_scale", nullptr},
                      {"drop_rate", 0.0},       {"attn_drop_rate", 0.0},    {"drop_path_rate", 0.0},
                      {"norm_layer", "nn.LayerNorm"}, {"depths", {3, 4, 6, 3}}, {"sr_ratios", {8, 4, 2, 1}},
                      {"agent_sr_ratios", "1111"}, {"num_stages", 4},       {"agent_num", {9, 16, 49, 49}},
                      {"attn_type", "AAAA"}};
    f.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "agent_pvt");
      AgentModelOptions o;
      o.arch("pvt")
          .img_size(a.get("img_size", o.img_size()))
          .patch_size(a.get<int64_t>("patch_size", 16))
          .in_chans(a.get("in_chans", o.in_chans()))
          .num_classes(a.get("num_classes", o.num_classes()))
          .embed_dims(a.get("embed_dims", std::vector<int64_t>{64, 128, 256, 512}))
          .num_heads(a.get("num_heads", std::vector<int64_t>{1, 2, 4, 8}))
          .mlp_ratios(a.get("mlp_ratios", std::vector<double>{4, 4, 4, 4}))
          .qkv_bias(a.get("qkv_bias", false))
          .drop_rate(a.get("drop_rate", 0.0))
          .attn_drop_rate(a.get("attn_drop_rate", 0.0))
          .drop_path_rate(a.get("drop_path_rate", 0.0))
          .depths(a.get("depths", std::vector<int64_t>{3, 4, 6, 3}))
          .sr_ratios(a.get("sr_ratios", o.sr_ratios()))
          .agent_num(agent_nums(a, {9, 16, 49, 49}))
          .attn_type(a.get<std::string>("attn_type", "AAAA"))
          .norm_eps(layer_norm_eps(a.get<std::string>("norm_layer", "nn.LayerNorm"), "agent_pvt"));
      const json sr = a.get<json>("agent_sr_ratios", "1111");
      o.agent_sr_ratios(sr.is_string() ? sr.get<std::string>() : std::to_string(sr.get<int64_t>()));
      if (a.get<int64_t>("num_stages", 4) != static_cast<int64_t>(o.embed_dims().size()))
        throw std::invalid_argument("agent_pvt: num_stages must equal len(embed_dims)");
      if (!a.get<json>("qk_scale", nullptr).is_null()) throw std::invalid_argument("agent_pvt: qk_scale is not supported");
      a.finish();
      return AgentModel(o).ptr();
    };
    f.pretrained = agent_cfg("patch_embed1.proj", 224);
    r.add_family(f);
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
  {  // Agent-Swin
    ModelFamily f;
    f.name = "agent_swin";
    f.description = "Agent-Swin, agent attention in Swin (Han et al., arXiv 2312.08874)";
    f.default_args = {{"img_size", 224},      {"patch_size", 4},         {"in_chans", 3},
                      {"num_classes", 1000},  {"embed_dim", 96},         {"depths", {2, 2, 6, 2}},
                      {"num_heads", {3, 6, 12, 24}}, {"window_size", 7}, {"mlp_ratio", 4.0},
                      {"qkv_bias", true},     {"qk_scale", nullptr},     {"drop_rate", 0.0},
                      {"attn_drop_rate", 0.0}, {"drop_path_rate", 0.1},  {"norm_layer", "nn.LayerNorm"},
                      {"ape", false},         {"patch_norm", true},      {"use_checkpoint", false},
                      {"agent_num", {9, 16, 49, 49}}, {"attn_type", "BBBB"}};
    f.build = [](const json& args) -> ClassifierPtr {
      ArgReader a(args, "agent_swin");
      AgentModelOptions o;
      o.arch("swin")
          .img_size(a.get("img_size", o.img_size()))
          .patch_size(a.get<int64_t>("patch_size", 4))
          .in_chans(a.get("in_chans", o.in_chans()))
          .num_classes(a.get("num_classes", o.num_classes()))
          .embed_dims({a.get<int64_t>("embed_dim", 96)})
          .depths(a.get("depths", std::vector<int64_t>{2, 2, 6, 2}))
          .num_heads(a.get("num_heads", std::vector<int64_t>{3, 6, 12, 24}))
          .window_size(a.get<int64_t>("window_size", 7))
          .mlp_ratios({a.get<double>("mlp_ratio", 4.0)})
          .qkv_bias(a.get("qkv_bias", true))
          .drop_rate(a.get("drop_rate", 0.0))
          .attn_drop_rate(a.get("attn_drop_rate", 0.0))
          .drop_path_rate(a.get("drop_path_rate", 0.1))
          .patch_norm(a.get("patch_norm", true))
          .agent_num(agent_nums(a, {9, 16, 49, 49}))
          .attn_type(a.get<std::string>("attn_type", "BBBB"));
      if (layer_norm_eps(a.get<std::string>("norm_layer", "nn.LayerNorm"), "agent_swin") != 1e-5)
        throw std::invalid_argument("agent_swin: norm_layer must be nn.LayerNorm");
      if (a.get<bool>("ape", false)) throw std::invalid_argument("agent_swin: ape=True is not supported");
      if (!a.get<json>("qk_scale", nullptr).is_null()) throw std::invalid_argument("agent_swin: qk_scale is not supported");
      a.ignore("use_checkpoint");
      a.finish();
      return AgentModel(o).ptr();
    };
    f.pretrained = agent_cfg("patch_embed.proj", 224);
    r.add_family(f);
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
}

}  // namespace attnzoo::models
