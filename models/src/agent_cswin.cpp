#include <attnzoo/models/agent_cswin.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/agent_cswin.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <sstream>

namespace attnzoo::models {

namespace nn = torch::nn;
using json = nlohmann::json;
using namespace attnzoo::modules;

struct AgentCSWinImpl::Impl {
  nn::Conv2d stem_conv{nullptr};
  nn::LayerNorm stem_norm{nullptr}, norm{nullptr};
  std::vector<std::vector<CSWinBlock>> stages;
  std::vector<CSWinMergeBlock> merges;
  std::vector<int64_t> sides;
  std::vector<FeatureInfo> info;
};

AgentCSWinImpl::AgentCSWinImpl(const AgentCSWinOptions& o) : options(o), impl_(std::make_shared<Impl>()) {
  auto& I = *impl_;
  const size_t S = 4;
  TORCH_CHECK(o.depth().size() == S && o.num_heads().size() == S && o.split_size().size() == S &&
                  o.la_split_size().size() == S && o.agent_num().size() == S && o.attn_type().size() >= S,
              "agent_cswin: depth, num_heads, split_size, la_split_size, agent_num and attn_type need 4 stages");
  TORCH_CHECK(o.img_size() % 32 == 0, "agent_cswin: img_size must be a multiple of 32, got ", o.img_size());
  // stage1_conv_embed = Sequential(Conv2d(in, C, 7, 4, 2), Rearrange, LayerNorm): keys .0 and .2.
  auto stem = std::make_shared<nn::Module>("Sequential");
  I.stem_conv = stem->register_module("0", nn::Conv2d(nn::Conv2dOptions(o.in_chans(), o.embed_dim(), 7).stride(4).padding(2)));
  I.stem_norm = stem->register_module("2", nn::LayerNorm(nn::LayerNormOptions({o.embed_dim()})));
  register_module("stage1_conv_embed", stem);
  int64_t total = 0;
  for (auto d : o.depth()) total += d;
  const std::vector<double> dpr = modules::drop_path_rates(o.drop_path_rate(), total);
  int64_t cur = 0, dim = o.embed_dim();
  const std::string& at = o.attn_type();
  for (size_t i = 0; i < S; ++i) {
    const int64_t reso = o.img_size() / (int64_t{4} << i);
    if (i > 0) {
      I.merges.push_back(register_module("merge" + std::to_string(i), CSWinMergeBlock(dim, dim * 2)));
      dim *= 2;
    }
    nn::ModuleList blocks;
    I.stages.emplace_back();
    for (int64_t j = 0; j < o.depth()[i]; ++j, ++cur) {
      // 'M<n>' (the digits after the four letters): the first n blocks of that stage agent, the rest LePE.
      char t = at[i];
      if (t == 'M') t = j < std::stoll(at.substr(4)) ? 'A' : 'B';
      TORCH_CHECK(t == 'A' || t == 'B', "agent_cswin: attn_type letters must be A, B or M<n>, got ", at);
      const int64_t split = t == 'A' ? o.la_split_size()[i] : o.split_size()[i];
      CSWinBlock b(CSWinBlockOptions(dim, reso, o.num_heads()[i])
                       .split_size(split)
                       .mlp_ratio(o.mlp_ratio())
                       .qkv_bias(o.qkv_bias())
                       .drop(o.drop_rate())
                       .attn_drop(o.attn_drop_rate())
                       .drop_path(dpr[static_cast<size_t>(cur)])
                       .last_stage(i + 1 == S)
                       .agent_num(o.agent_num()[i])
                       .attn_type(t == 'A' ? AgentAttnType::Agent : AgentAttnType::Softmax));
      blocks->push_back(b);
      I.stages.back().push_back(b);
    }
    register_module("stage" + std::to_string(i + 1), blocks);
    I.sides.push_back(reso);
    I.info.push_back({dim, int64_t{4} << i, "stage" + std::to_string(i + 1)});
  }
  num_features_ = dim;
  I.norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  reset_classifier(o.num_classes());
  // _init_weights: Linear trunc_normal(.02) / bias 0, LayerNorm 1 / 0; convs and the agent biases keep theirs.
  init_vit_weights(*this);
}

at::Tensor AgentCSWinImpl::run(const at::Tensor& x, StageSink sink) {
  auto& I = *impl_;
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.in_chans() && x.size(2) == o.img_size() && x.size(3) == o.img_size(),
              "agent_cswin: built for [B, ", o.in_chans(), ", ", o.img_size(), ", ", o.img_size(), "] inputs, got ", x.sizes());
  const int64_t B = x.size(0);
  at::Tensor t = I.stem_norm(I.stem_conv(x).flatten(2).transpose(1, 2));
  for (size_t i = 0; i < I.stages.size(); ++i) {
    if (i > 0) t = I.merges[i - 1]->forward(t, I.sides[i - 1]);
    for (auto& b : I.stages[i]) t = b->forward(t);
    if (sink.add(t.transpose(1, 2).reshape({B, -1, I.sides[i], I.sides[i]}))) return {};
  }
  const int64_t s = I.sides.back();
  return I.norm(t).transpose(1, 2).reshape({B, -1, s, s});
}

at::Tensor AgentCSWinImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

std::vector<at::Tensor> AgentCSWinImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

// The final LayerNorm over the channels of the last stage's map.
at::Tensor AgentCSWinImpl::finish_features(const at::Tensor& last_stage_output) {
  return impl_->norm(last_stage_output.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

at::Tensor AgentCSWinImpl::forward_head(const at::Tensor& x, bool pre_logits) { return apply_head(x.mean({2, 3}), pre_logits); }

void AgentCSWinImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  if (head) {
    torch::NoGradGuard ng;
    trunc_normal_(head->weight, 0.02);
    head->bias.zero_();
  }
}

std::vector<FeatureInfo> AgentCSWinImpl::feature_info() const { return impl_->info; }

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

// The official configs pass "9-16-49-49".split('-') and '56-28-14-7': accept lists of numbers or numeric
// strings, or one dash-separated string.
PretrainedCfg cswin_cfg(int64_t size) {
  PretrainedCfg c;  // agent_cswin.py default_cfgs: cswin_224 crop 0.9, cswin_384 crop 1.0, bicubic
  c.input_size = {3, size, size};
  c.crop_pct = size == 384 ? 1.0 : 0.9;
  c.interpolation = "bicubic";
  c.first_conv = "stage1_conv_embed.0";
  c.classifier = "head";
  c.fixed_input_size = true;
  c.paper = "arXiv:2312.08874";
  return c;
}

}  // namespace

void register_agent_cswin(Registry& r) {
  r.add_family(family_of<AgentCSWin, AgentCSWinOptions>(
      "agent_cswin", "Agent-CSWin, agent attention in CSWin's cross-shaped stripes (Han et al., arXiv 2312.08874)",
      cswin_cfg(224)));
  // agent_transformer/README.md: TsinghuaCloud file id, the config the weights are named by, published top-1.
  auto variant = [&](const char* name, int64_t dim, std::vector<int64_t> depth, std::vector<int64_t> heads, int64_t img,
                     std::vector<int64_t> split, const char* la_split, double dpr, const char* cloud_id,
                     const char* config, double top1) {
    ModelVariant v;
    v.name = name;
    v.family = "agent_cswin";
    v.args = {{"img_size", img},    {"patch_size", 4},         {"embed_dim", dim},          {"depth", depth},
              {"split_size", split}, {"la_split_size", la_split}, {"num_heads", heads},      {"mlp_ratio", 4.0},
              {"drop_path_rate", dpr}, {"agent_num", {9, 16, 49, 49}}, {"attn_type", "AABB"}};
    v.pretrained = cswin_cfg(img);
    v.pretrained.weights(std::string("https://cloud.tsinghua.edu.cn/f/") + cloud_id + "/?dl=1", top1,
                         "not stated by the authors", std::string(config) + ".pth");
    r.add_variant(v);
  };
  // cfgs/agent_cswin_{t,s,b,b_384}.yaml (CSWIN_LA_SPLIT_SIZE default '56-28-14-7', config.py).
  variant("agent_cswin_tiny", 64, {2, 4, 18, 1}, {2, 4, 8, 16}, 224, {1, 2, 7, 7}, "56-28-14-7", 0.2,
          "8c562a74441e46d5902b", "agent_cswin_t", 83.1);
  variant("agent_cswin_small", 64, {3, 6, 29, 2}, {2, 4, 8, 16}, 224, {1, 2, 7, 7}, "56-28-14-7", 0.4,
          "30eb8af675bc4b7a8747", "agent_cswin_s", 83.9);
  variant("agent_cswin_base", 96, {3, 6, 29, 2}, {4, 8, 16, 32}, 224, {1, 2, 7, 7}, "56-28-14-7", 0.5,
          "c8035b0839b2410c8c9f", "agent_cswin_b", 84.7);
  variant("agent_cswin_base_384", 96, {3, 6, 29, 2}, {4, 8, 16, 32}, 384, {1, 2, 12, 12}, "96-48-24-12", 0.7,
          "1239be0df44b47719432", "agent_cswin_b_384", 85.8);
}

}  // namespace attnzoo::models
