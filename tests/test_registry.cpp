// Registry behaviour and the timm model contract on every variant family.
#include "test_util.h"

#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/eval/erf.h>
#include <attnzoo/models/features.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/van.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/module_registry.h>

#include <attnzoo/modules/attention_capture.h>

#include <gtest/gtest.h>

#include <set>
#include <torch/torch.h>

using namespace attnzoo;

namespace {

TEST(Registry, NaturalSortAndWildcards) {
  EXPECT_TRUE(models::natural_less("van_b2", "van_b10"));
  EXPECT_FALSE(models::natural_less("van_b10", "van_b2"));
  EXPECT_TRUE(models::natural_less("a", "ab"));
  EXPECT_TRUE(models::wildcard_match("van_b*", "van_b0"));
  EXPECT_TRUE(models::wildcard_match("*b?", "van_b6"));
  EXPECT_FALSE(models::wildcard_match("van_b?", "van_b10"));
  auto all = models::registry().list("van_b*");
  EXPECT_EQ(all, (std::vector<std::string>{"van_b0", "van_b1", "van_b2", "van_b3", "van_b4", "van_b5", "van_b6"}));
  EXPECT_TRUE(models::registry().list("nothing*").empty());
}

TEST(Registry, UnknownModelsAndArgumentsAreClearErrors) {
  try {
    models::create_model("van_b9");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'van_b9'"), std::string::npos) << e.what();
  }
  try {
    models::create_model("van_b0", {{"embed_dim", 3}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown argument 'embed_dim'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("embed_dims"), std::string::npos) << e.what();  // lists the known ones
  }
  EXPECT_THROW(models::create_model("van_b0", {{"depths", "three"}}), std::invalid_argument);
}

TEST(Registry, VariantArgsAndOverrides) {
  auto args = models::registry().resolve_args("van_b2", {{"num_classes", 7}});
  EXPECT_EQ(args["depths"], nlohmann::json({3, 3, 12, 3}));
  EXPECT_EQ(args["num_classes"], 7);
  auto m = models::create_model("van_b0", {{"num_classes", 7}, {"depths", {1, 1, 1, 1}}});
  EXPECT_EQ(m->num_classes(), 7);
  EXPECT_EQ(m->pretrained_cfg().first_conv, "patch_embed1.proj");
  EXPECT_EQ(m->pretrained_cfg().num_classes, 7);
  EXPECT_EQ(m->pretrained_cfg().input_size[1], 224);
}

// timm's model contract (tests/test_models.py) on a small VAN.
TEST(Registry, FeaturesOnlyTheTimmWay) {
  // timm: create_model(name, features_only=True, out_indices=..., output_fmt=...). In C++ a features-only
  // model is not a classifier: create_model says which function builds it, create_features_model takes the
  // same keys.
  try {
    models::create_model("van_b0", {{"features_only", true}});
    ADD_FAILURE() << "create_model built a classifier for features_only=true";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("create_features_model"), std::string::npos) << e.what();
  }
  EXPECT_EQ(models::create_model("van_b0", {{"features_only", false}, {"num_classes", 3}})->num_classes(), 3);
  auto last_two = models::create_features_model("van_b0", {}, {{"features_only", true}, {"out_indices", 2}, {"output_fmt", "NHWC"}});
  EXPECT_EQ(last_two->out_indices(), (std::vector<int64_t>{2, 3}));
  torch::NoGradGuard ng;
  last_two->eval();
  const auto maps = last_two->forward(torch::randn({1, 3, 64, 64}));
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[1].sizes(), (std::vector<int64_t>{1, 2, 2, 256}));  // NHWC, stride 32, van_b0's last width
  auto first = models::create_features_model("van_b0", {}, {{"out_indices", {0, -1}}});
  EXPECT_EQ(first->out_indices(), (std::vector<int64_t>{0, 3}));
  EXPECT_THROW(models::create_features_model("van_b0", {1}, {{"out_indices", {0}}}), std::invalid_argument);
}

TEST(ModelContract, VanForwardHeadResetAndGradients) {
  auto m = models::create_model("van_b0", {{"depths", {1, 1, 1, 1}}, {"num_classes", 42}});
  const auto x = torch::randn({2, 3, 64, 64});
  auto feats = m->forward_features(x);
  EXPECT_EQ(feats.sizes(), (std::vector<int64_t>{2, m->num_features(), 2, 2}));
  EXPECT_EQ(m->forward_head(feats, /*pre_logits=*/true).sizes(), (std::vector<int64_t>{2, 256}));
  auto y = m->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 42}));
  EXPECT_FALSE(y.isnan().any().item<bool>());
  y.sum().backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  auto inter = m->forward_intermediates(x);
  ASSERT_EQ(inter.size(), m->feature_info().size());
  for (size_t i = 0; i < inter.size(); ++i) {
    EXPECT_EQ(inter[i].size(1), m->feature_info()[i].num_chs);
    EXPECT_EQ(64 / inter[i].size(2), m->feature_info()[i].reduction);
  }
  m->reset_classifier(0);
  EXPECT_EQ(m->num_classes(), 0);
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, 256}));
  EXPECT_FALSE(m->named_parameters().contains("head.weight"));
  m->reset_classifier(5);
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(m->named_parameters().contains("head.weight"));
}

TEST(ModelContract, WrongInputShapeIsAClearError) {
  auto m = models::create_model("van_b0", {{"depths", {1, 1, 1, 1}}});
  try {
    m->forward(torch::randn({2, 1, 32, 32}));
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("expected input [B, 3, H, W]"), std::string::npos);
  }
}

TEST(ModelContract, DropPathIsActiveOnlyInTraining) {
  auto m = models::create_model("van_b0", {{"depths", {2, 2, 2, 2}}, {"drop_path_rate", 0.5}});
  auto van = std::dynamic_pointer_cast<models::VANImpl>(m);
  ASSERT_TRUE(van);
  // linspace(0, 0.5, 8): the last block gets the full rate.
  auto last = van->blocks[3]->ptr(1)->as<modules::VANBlockImpl>();
  EXPECT_DOUBLE_EQ(last->drop_path->p(), 0.5);
  m->eval();
  const auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(m->forward(x).equal(m->forward(x)));
  m->train();
  torch::manual_seed(0);
  auto a = m->forward(x);
  auto b = m->forward(x);
  EXPECT_FALSE(a.equal(b));
}

TEST(Modules, FactoryListsAndRejectsUnknown) {
  EXPECT_GE(modules::module_entries().size(), 3u);
  EXPECT_THROW(modules::find_module("van", "Nope"), std::invalid_argument);
  EXPECT_THROW(modules::find_module("van", "LKA").build({{"dim", 4}, {"typo", 1}}), std::invalid_argument);
  auto lka = modules::LKA(modules::LKAOptions(8));
  EXPECT_EQ(lka->forward(torch::randn({1, 8, 9, 11})).sizes(), (std::vector<int64_t>{1, 8, 9, 11}));
}

}  // namespace

namespace {

// timm's model contract on every registered family, at small sizes: forward shape, every parameter
// gets a gradient, per-stage outputs match feature_info, reset_classifier(0) gives pooled features.
struct SmallConfig {
  std::string family;
  nlohmann::json args;
  int64_t img;
};

const std::vector<SmallConfig>& small_configs() {
  static const std::vector<SmallConfig> c = {
      {"van", {{"embed_dims", {8, 16, 24, 32}}, {"depths", {1, 1, 1, 1}}, {"num_classes", 7}}, 64},
      {"convit",
       {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", 32}, {"depth", 2}, {"num_heads", 4}, {"local_up_to_layer", 1},
        {"num_classes", 7}},
       32},
      {"biformer",
       {{"depth", {1, 1, 1, 1}}, {"embed_dim", {16, 24, 32, 32}}, {"qk_dims", {16, 24, 32, 32}}, {"head_dim", 8}, {"n_win", 2},
        {"topks", {1, 2, 2, -2}}, {"kv_downsample_mode", "identity"}, {"kv_per_wins", {-1, -1, -1, -1}}, {"num_classes", 7}},
       64},
      {"davit",
       {{"embed_dims", {8, 16, 16, 16}}, {"num_heads", {2, 2, 2, 2}}, {"depths", {1, 1, 1, 1}}, {"window_size", 3},
        {"num_classes", 7}},
       64},
      {"litv2",
       {{"img_size", 64}, {"embed_dim", 8}, {"depths", {1, 1, 1, 1}}, {"num_heads", {1, 2, 2, 4}}, {"alpha", 0.5},
        {"local_ws", {0, 0, 2, 1}}, {"num_classes", 7}},
       64},
      {"biformer_stl",
       {{"depth", {1, 1, 1, 1}}, {"embed_dim", {16, 32, 32, 64}}, {"head_dim", 8}, {"n_wins", {2, 2, 2, 2}},
        {"topks", {1, 2, 2, -2}}, {"num_classes", 7}},
       64},
      {"biformer_stl_nchw",
       {{"depth", {1, 1, 1, 1}}, {"embed_dim", {16, 32, 32, 64}}, {"head_dim", 8}, {"n_wins", {2, 2, 2, 2}},
        {"topks", {1, 2, 2, -1}}, {"norm_layer", "nn.BatchNorm2d"}, {"num_classes", 7}},
       64},
      {"nat",
       {{"embed_dim", 8}, {"depths", {1, 2, 1}}, {"num_heads", {1, 2, 2}}, {"kernel_size", 3},
        {"dilations", {{1}, {1, 2}, {1}}}, {"layer_scale", 0.5}, {"num_classes", 7}},
       64},
      // 60 px: 15x15 -> 8x8 -> 4x4 (odd map through patch merging; the last level is smaller than k * d and
      // takes natten 0.14's padding path).
      {"dinat_s",
       {{"embed_dim", 8}, {"depths", {1, 2, 1}}, {"num_heads", {1, 2, 2}}, {"kernel_size", 5},
        {"dilations", {{1}, {1, 2}, {2}}}, {"num_classes", 7}},
       60},
      {"nat_isotropic",
       {{"img_size", 64}, {"patch_size", 16}, {"embed_dim", 16}, {"depth", 2}, {"num_heads", 2},
        {"layer", "VisionTransformerLayer"}, {"num_classes", 7}},
       64},
      {"agent_deit",
       {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", 16}, {"depth", 3}, {"num_heads", 2}, {"agent_num", {4, 4, 9, 9}},
        {"agent_layer", 2}, {"num_classes", 7}},
       32},
      {"agent_pvt",
       {{"img_size", 64}, {"patch_size", 4}, {"embed_dims", {8, 16, 16, 32}}, {"num_heads", {1, 2, 2, 4}},
        {"depths", {1, 1, 1, 1}}, {"agent_num", {4, 4, 4, 1}}, {"attn_type", "AABA"}, {"agent_sr_ratios", "2111"},
        {"num_classes", 7}},
       64},
      {"agent_swin",
       // 28x28 agent windows of 14 (shifted), 14x14 window attention 7 with the shift mask, 7x7 'M1'.
       {{"img_size", 112}, {"embed_dim", 8}, {"depths", {2, 2, 2}}, {"num_heads", {1, 2, 2}}, {"window_size", 14},
        {"agent_num", {4, 4, 4}}, {"attn_type", "ABM1"}, {"num_classes", 7}},
       112},
      // 16x16 whole-map agent, stage 2 'M1' (agent stripes 8x4 / 4x8, then LePE stripes of 2), LePE stripes of 2 on
      // 4x4, and a last-stage agent block on the 2x2 map.
      {"agent_cswin",
       {{"img_size", 64}, {"embed_dim", 8}, {"depth", {1, 2, 1, 1}}, {"num_heads", {2, 2, 4, 4}},
        {"split_size", {1, 2, 2, 2}}, {"la_split_size", "16-4-4-2"}, {"agent_num", {4, 4, 4, 1}}, {"attn_type", "AMBA1"},
        {"num_classes", 7}},
       64},
      {"sigmoid_vit",
       {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", 16}, {"depth", 2}, {"num_heads", 2}, {"num_classes", 7}},
       32},
      {"unireplknet",
       {{"depths", {1, 1, 2, 1}}, {"dims", {8, 16, 24, 32}}, {"kernel_sizes", {{3}, {7}, {13, 0}, {5}}}, {"num_classes", 7}},
       64},
      // Stage 1 every head shared, 2 routed + shared, 3 routed only, 4 global with one shared head.
      {"moh_transnext",
       {{"img_size", 64}, {"patch_size", 4}, {"embed_dims", {8, 16, 16, 32}}, {"num_heads", {2, 2, 2, 4}},
        {"mlp_ratios", {4, 4, 4, 4}}, {"depths", {1, 1, 1, 1}}, {"shared_head", {2, 1, 0, 1}},
        {"routed_head", {0, 1, 1, 2}}, {"num_classes", 7}},
       64},
      {"volo",
       {{"layers", {1, 1, 1, 1}}, {"img_size", 64}, {"stem_hidden_dim", 8}, {"embed_dims", {16, 32, 32, 32}},
        {"num_heads", {2, 4, 4, 4}}, {"num_classes", 7}},
       64},
      // Every ByobNet layer kind at once: SE bottleneck, lambda (local conv), halo with strided queries,
      // BoTNet attention (fixed size, avg-pool stride), final conv.
      {"halonet",
       {{"cfg",
         {{"blocks",
           {{{"type", "bottle"}, {"d", 1}, {"c", 16}, {"s", 1}, {"br", 0.25}, {"attn_layer", "se"}},
            {{{"type", "bottle"}, {"d", 1}, {"c", 32}, {"s", 2}, {"br", 0.25}},
             {{"type", "self_attn"}, {"d", 1}, {"c", 32}, {"s", 2}, {"br", 0.25}, {"self_attn_layer", "lambda"},
              {"self_attn_kwargs", {{"r", 3}, {"num_heads", 2}, {"dim_head", 4}}}}},
            {{"type", "self_attn"}, {"d", 1}, {"c", 32}, {"s", 2}, {"br", 0.5}},
            {{"type", "self_attn"}, {"d", 1}, {"c", 64}, {"s", 2}, {"br", 0.25}, {"self_attn_layer", "bottleneck"},
             {"self_attn_kwargs", {{"num_heads", 2}}}}}},
          {"stem_chs", 16},
          {"stem_type", "tiered"},
          {"num_features", 48},
          {"act_layer", "silu"},
          {"self_attn_layer", "halo"},
          {"self_attn_kwargs", {{"block_size", 2}, {"halo_size", 1}, {"num_heads", 2}}}}},
        {"img_size", 64},
        {"num_classes", 7}},
       64},
  };
  return c;
}

TEST(ModelContract, EveryFamilyHasASmallConfigHere) {
  for (const auto& f : models::registry().families()) {
    bool found = false;
    for (const auto& c : small_configs()) found |= c.family == f.name;
    EXPECT_TRUE(found) << f.name << " has no small config in test_registry.cpp";
  }
}

// Families without an attention to draw (UniRepLKNet is a ConvNet: `viz erf` is its picture).
const std::set<std::string> kWithoutAttention = {"unireplknet"};

class FamilyContract : public ::testing::TestWithParam<SmallConfig> {};

TEST_P(FamilyContract, ForwardBackwardFeaturesReset) {
  const auto& c = GetParam();
  torch::manual_seed(0);
  auto m = models::create_model(c.family, c.args);
  const auto x = torch::randn({2, 3, c.img, c.img});
  auto y = m->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_FALSE(y.isnan().any().item<bool>());
  y.pow(2).sum().backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << c.family << " " << p.key();
  }
  EXPECT_EQ(m->forward_intermediates(x).size(), m->feature_info().size());
  EXPECT_EQ(m->forward_head(m->forward_features(x), true).size(1), m->num_features());
  {
    // timm's feature API: every stage map has feature_info's channels and reduction, keys stay the model's.
    torch::NoGradGuard no_grad;
    m->eval();  // no stochastic depth: the two passes below must agree
    models::FeatureListNet features(m, std::vector<int64_t>{});
    const auto info = features->feature_info();
    const auto maps = features->forward(x);
    ASSERT_EQ(maps.size(), info.size());
    for (size_t i = 0; i < maps.size(); ++i) {
      const int64_t side = (c.img + info[i].reduction - 1) / info[i].reduction;
      EXPECT_EQ(maps[i].sizes(), (std::vector<int64_t>{2, info[i].num_chs, side, side})) << c.family << " stage " << i;
    }
    EXPECT_EQ(checkpoint::state_dict(*features).keys(), checkpoint::state_dict(*m).keys());
    const auto last = models::forward_intermediates(*m, x, models::IntermediatesOptions().indices({-1}).output_fmt("NHWC"));
    ASSERT_EQ(last.intermediates.size(), 1u);
    EXPECT_TRUE(last.intermediates[0].equal(maps.back().permute({0, 2, 3, 1}))) << c.family;
    // forward_features is the last stage finished; stop_early returns the same maps without running later stages.
    const at::Tensor finished = m->forward_features(x);
    EXPECT_TRUE(torch::allclose(last.features, finished, 1e-5, 1e-6)) << c.family;
    const auto early = models::forward_intermediates(*m, x, models::IntermediatesOptions().indices({0}).stop_early(true));
    EXPECT_TRUE(early.intermediates[0].equal(maps[0])) << c.family;
    EXPECT_EQ(m->forward_stages(x, 0).size(), 1u) << c.family;
    // norm: timm's final norm on the normed stage; the final features are what forward_features returns.
    const auto normed = models::forward_intermediates(*m, x, models::IntermediatesOptions().indices({-1}).norm(true));
    EXPECT_TRUE(torch::allclose(m->forward_head(normed.features), m->forward(x), 1e-5, 1e-6)) << c.family;
    if (finished.dim() == 4)  // hierarchical: the normed last stage is forward_features
      EXPECT_TRUE(torch::allclose(normed.intermediates[0], finished, 1e-5, 1e-6)) << c.family << ": normed last stage";
    m->train();
  }
  {
    // `viz attention`: a capture changes no output, and every recorded map has its key grid's shape; rows of a
    // softmax never sum above one (below it where a window covers padding).
    torch::NoGradGuard no_grad;
    m->eval();
    const at::Tensor plain = m->forward(x);
    modules::AttentionCapture capture;
    EXPECT_TRUE(m->forward(x).equal(plain)) << c.family;
    int64_t maps = 0;
    for (const auto& r : capture.records()) {
      if (!r.query_map) continue;
      ++maps;
      const at::Tensor map = r.query_map(1, r.query_grid[0] / 2, r.query_grid[1] / 2);
      EXPECT_EQ(map.size(1), r.key_grid[0]) << c.family << " " << r.kind;
      EXPECT_EQ(map.size(2), r.key_grid[1]) << c.family << " " << r.kind;
      if (r.kind == "softmax" || r.kind == "gpsa" || r.kind == "neighborhood")
        EXPECT_LE(map.sum({1, 2}).max().item<double>(), 1 + 1e-5) << c.family << " " << r.kind;
    }
    if (!kWithoutAttention.count(c.family)) EXPECT_GT(maps, 0) << c.family << " records no attention map";
  }
  {
    // `viz erf`: the last stage's central position has a finite, non-zero input gradient of the input's size.
    m->eval();
    const at::Tensor erf = eval::erf_contribution(
        [&](const at::Tensor& t) {
          return models::forward_intermediates(*m, t, models::IntermediatesOptions().indices({-1}).intermediates_only(true))
              .intermediates[0];
        },
        x.narrow(0, 0, 1));
    EXPECT_EQ(erf.sizes(), at::IntArrayRef({c.img, c.img})) << c.family;
    EXPECT_TRUE(torch::isfinite(erf).all().item<bool>()) << c.family;
    EXPECT_GT(erf.sum().item<double>(), 0.0) << c.family;
    m->train();
  }
  m->reset_classifier(0);
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, m->num_features()}));
  m->reset_classifier(3);
  EXPECT_EQ(m->forward(x).size(1), 3);
  EXPECT_EQ(m->num_classes(), 3);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyContract, ::testing::ValuesIn(small_configs()),
                         [](const ::testing::TestParamInfo<SmallConfig>& i) { return i.param.family; });

}  // namespace

namespace {

// timm's ViT forward_intermediates on ConViT: `norm` norms every block's tokens, the class token (which joins at
// local_up_to_layer) comes back as the prefix, NLC keeps the spatial tokens, and stop_early ends at the last index.
TEST(ModelContract, ViTIntermediatesSplitPrefixTokensAndNormEveryBlock) {
  torch::NoGradGuard no_grad;
  auto m = models::create_model("convit", {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", 32}, {"depth", 3},
                                           {"num_heads", 4}, {"local_up_to_layer", 1}, {"num_classes", 7}});
  m->eval();
  const auto x = torch::randn({2, 3, 32, 32});
  const auto blocks = m->forward_intermediates(x);
  const auto& norm = *m->named_modules()["norm"]->as<torch::nn::LayerNormImpl>();
  const auto got = models::forward_intermediates(
      *m, x, models::IntermediatesOptions().norm(true).output_fmt("NLC").return_prefix_tokens(true));
  ASSERT_EQ(got.intermediates.size(), 3u);
  ASSERT_EQ(got.prefix_tokens.size(), 3u);
  EXPECT_EQ(got.prefix_tokens[0].size(1), 0);  // before local_up_to_layer: no class token yet
  for (size_t i = 0; i < 3; ++i) {
    const at::Tensor normed = const_cast<torch::nn::LayerNormImpl&>(norm).forward(blocks[i]);
    EXPECT_TRUE(torch::cat({got.prefix_tokens[i], got.intermediates[i]}, 1).allclose(normed, 1e-6, 1e-6)) << i;
  }
  EXPECT_EQ(got.prefix_tokens[2].sizes(), (std::vector<int64_t>{2, 1, 32}));
  EXPECT_EQ(got.intermediates[2].sizes(), (std::vector<int64_t>{2, 16, 32}));
  EXPECT_TRUE(got.features.allclose(m->forward_features(x), 1e-6, 1e-6));
  // stop_early at block 1: the features are that block's normed tokens, as timm's ViT returns them.
  const auto early = models::forward_intermediates(*m, x, models::IntermediatesOptions().indices({1}).stop_early(true));
  EXPECT_TRUE(early.features.allclose(const_cast<torch::nn::LayerNormImpl&>(norm).forward(blocks[1]), 1e-6, 1e-6));
  EXPECT_THROW(models::forward_intermediates(*m, x, models::IntermediatesOptions().output_fmt("NCL")), std::invalid_argument);
  EXPECT_THROW(models::forward_intermediates(*m, x, models::IntermediatesOptions().indices({3})), std::invalid_argument);
}

// DaViT with overlapped patch merging on a non-square input whose sizes are not multiples of the
// window: padding in the patch embeddings and spatial blocks keeps every stage consistent.
TEST(ModelContract, DaViTOverlappedNonSquare) {
  auto m = models::create_model("davit", {{"embed_dims", {8, 16, 16, 16}}, {"num_heads", {2, 2, 2, 2}}, {"depths", {1, 1, 1, 1}},
                                          {"window_size", 5}, {"overlapped_patch", true}, {"num_classes", 3}});
  const auto x = torch::randn({2, 3, 72, 56});
  auto feats = m->forward_intermediates(x);
  ASSERT_EQ(feats.size(), 4u);
  EXPECT_EQ(feats[0].sizes(), (std::vector<int64_t>{2, 8, 18, 14}));
  EXPECT_EQ(feats[1].sizes(), (std::vector<int64_t>{2, 16, 9, 7}));
  EXPECT_EQ(feats[2].sizes(), (std::vector<int64_t>{2, 16, 5, 4}));
  EXPECT_EQ(feats[3].sizes(), (std::vector<int64_t>{2, 16, 3, 2}));
  auto y = m->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3}));
  y.sum().backward();
  for (const auto& p : m->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
  EXPECT_EQ(checkpoint::state_dict(*m)["patch_embeds.1.proj.weight"].size(-1), 3);  // 3x3 kernels when overlapped
}

}  // namespace
