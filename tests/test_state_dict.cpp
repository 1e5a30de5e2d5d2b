// state_dict order, strict loading with one error listing everything, prefixes and envelopes.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo;
using checkpoint::TensorDict;

namespace {

struct Net : torch::nn::Module {
  Net() {
    scale = register_parameter("scale", torch::ones({2}));
    fc = register_module("fc", torch::nn::Linear(2, 3));
    bn = register_module("bn", torch::nn::BatchNorm1d(3));
  }
  torch::Tensor scale;
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

TEST(StateDict, PyTorchOrderParamsThenBuffersThenChildren) {
  Net n;
  std::vector<std::string> keys;
  for (const auto& item : checkpoint::state_dict(n)) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                            "bn.running_var", "bn.num_batches_tracked"}));
}

TEST(StateDict, StrictLoadListsMissingUnexpectedAndMisShapedAtOnce) {
  Net n;
  TensorDict w = checkpoint::state_dict(Net());
  w.erase("fc.bias");
  w.insert("extra.weight", torch::zeros({1}));
  w["scale"] = torch::zeros({5});
  try {
    checkpoint::load_state_dict(n, w, true, "ckpt.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("ckpt.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("1 missing key(s): fc.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("1 unexpected key(s): extra.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("scale: checkpoint [5] vs model [2]"), std::string::npos) << m;
  }
}

TEST(StateDict, NonStrictToleratesMissingButNeverMisShaped) {
  Net n;
  TensorDict w;
  w.insert("fc.weight", torch::full({3, 2}, 0.5));
  auto r = checkpoint::load_state_dict(n, w, /*strict=*/false);
  EXPECT_FALSE(r.missing.empty());
  EXPECT_TRUE(n.fc->weight.equal(torch::full({3, 2}, 0.5)));
  w.insert("scale", torch::zeros({3}));
  EXPECT_THROW(checkpoint::load_state_dict(n, w, false), std::runtime_error);
}

TEST(StateDict, LoadConvertsDtypeAndStripsWrapperPrefixes) {
  Net src;
  TensorDict w;
  for (const auto& item : checkpoint::state_dict(src)) w.insert("module._orig_mod." + item.key(), item.value().to(torch::kDouble).clone());
  w["module._orig_mod.scale"] = torch::tensor({3.0, 4.0}, torch::kDouble);
  auto clean = checkpoint::clean_state_dict(w);
  Net dst;
  checkpoint::load_state_dict(dst, clean);
  EXPECT_EQ(dst.scale.scalar_type(), torch::kFloat);
  EXPECT_TRUE(dst.scale.equal(torch::tensor({3.0f, 4.0f})));
}

// timm's rule: the model weights unless use_ema (validate.py --use-ema) asks for the EMA ones.
TEST(StateDict, SafetensorsEnvelopeTakesEmaOnlyWhenAsked) {
  auto dir = test::temp_dir("envelope");
  TensorDict d;
  d.insert("state_dict.w", torch::zeros({2}));
  d.insert("state_dict_ema.w", torch::ones({2}));
  d.insert("optimizer.w.exp_avg", torch::ones({2}));
  const std::string f = (dir / "ck.safetensors").string();
  checkpoint::write_safetensors(f, d, {{"attnzoo.envelope", "1"}});
  auto w = checkpoint::read_weights(f, "", /*use_ema=*/true);
  EXPECT_EQ(w.source, "state_dict_ema (safetensors)");
  EXPECT_TRUE(w.tensors["w"].equal(torch::ones({2})));
  auto model = checkpoint::read_weights(f);
  EXPECT_EQ(model.source, "state_dict (safetensors)");
  EXPECT_TRUE(model.tensors["w"].equal(torch::zeros({2})));
  auto plain = checkpoint::read_weights(f, "state_dict");
  EXPECT_TRUE(plain.tensors["w"].equal(torch::zeros({2})));
}

TEST(LoadWeights, FineTuneDropsHeadAndAdaptsStem) {
  auto src = models::create_model("van", {{"embed_dims", {8, 16, 24, 32}}, {"depths", {1, 1, 1, 1}}, {"num_classes", 10}});
  auto dir = test::temp_dir("finetune");
  const std::string f = (dir / "w.safetensors").string();
  checkpoint::write_safetensors(f, checkpoint::state_dict(*src));
  auto dst = models::create_model(
      "van", {{"embed_dims", {8, 16, 24, 32}}, {"depths", {1, 1, 1, 1}}, {"num_classes", 4}, {"in_chans", 1}});
  EXPECT_THROW(models::load_weights(*dst, f), std::runtime_error);  // strict: head and stem differ
  models::LoadOptions o;
  o.drop_mismatched_head = true;
  o.adapt_input_conv = true;
  models::load_weights(*dst, f, o);
  auto sd = checkpoint::state_dict(*dst);
  EXPECT_TRUE(sd["patch_embed1.proj.weight"].allclose(checkpoint::state_dict(*src)["patch_embed1.proj.weight"].sum(1, true)));
  EXPECT_TRUE(sd["block1.0.attn.proj_1.weight"].equal(checkpoint::state_dict(*src)["block1.0.attn.proj_1.weight"]));
}

}  // namespace

namespace {

// DaViT weights published in timm's layout load into the official-layout model unchanged.
TEST(LoadWeights, DaViTAcceptsTimmConvertedCheckpoints) {
  auto src = models::create_model("davit", {{"embed_dims", {8, 16, 16, 16}}, {"num_heads", {2, 2, 2, 2}},
                                            {"depths", {1, 1, 1, 1}}, {"num_classes", 5}});
  // Official -> timm (timm's checkpoint_filter_fn renames).
  TensorDict timm;
  for (const auto& item : checkpoint::state_dict(*src)) {
    std::string k = item.key();
    auto rep = [&](const std::string& from, const std::string& to) {
      const auto p = k.find(from);
      if (p != std::string::npos) k.replace(p, from.size(), to);
    };
    if (k.rfind("patch_embeds.0.", 0) == 0) k = "stem." + k.substr(15);
    for (int i = 1; i < 4; ++i) rep("patch_embeds." + std::to_string(i) + ".", "stages." + std::to_string(i) + ".downsample.");
    rep("main_blocks.", "stages.");
    if (k.rfind("stages.", 0) == 0 && k.find(".downsample.") == std::string::npos) k.insert(k.find('.', 7), ".blocks");
    rep("stem.proj.", "stem.conv.");
    rep("downsample.proj.", "downsample.conv.");
    rep(".cpe.0.", ".cpe1.");
    rep(".cpe.1.", ".cpe2.");
    if (k.rfind("head.", 0) == 0) k = "head.fc." + k.substr(5);
    if (k.rfind("norms.", 0) == 0) k = "head.norm." + k.substr(6);
    timm.insert(k, item.value().clone());
  }
  ASSERT_NE(timm.find("stages.2.blocks.0.1.cpe2.proj.weight"), nullptr);
  ASSERT_NE(timm.find("stem.conv.weight"), nullptr);
  auto dst = models::create_model("davit", {{"embed_dims", {8, 16, 16, 16}}, {"num_heads", {2, 2, 2, 2}},
                                            {"depths", {1, 1, 1, 1}}, {"num_classes", 5}});
  models::load_weights(*dst, timm, "timm-layout");
  const auto x = torch::randn({1, 3, 32, 32});
  src->eval();
  dst->eval();
  EXPECT_TRUE(src->forward(x).equal(dst->forward(x)));
}

}  // namespace
