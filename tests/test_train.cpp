// Optimizers, schedule, EMA, and the trainer: learning, exact resume after a kill, NaN handling.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/config.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/modules/sgconv.h>
#include <attnzoo/train/amp.h>
#include <attnzoo/train/lra.h>
#include <attnzoo/train/ema.h>
#include <attnzoo/train/layer_decay.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/schedule.h>
#include <attnzoo/train/trainer.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace attnzoo;
using namespace attnzoo::train;

namespace {

TEST(Schedule, WarmupThenCosine) {
  LrSchedule s;
  s.lr = 1.0;
  s.min_lr = 0.1;
  s.warmup_lr = 0.0;
  s.warmup_steps = 10;
  s.total_steps = 110;
  EXPECT_DOUBLE_EQ(s(0), 0.0);
  EXPECT_DOUBLE_EQ(s(5), 0.5);
  EXPECT_DOUBLE_EQ(s(10), 1.0);
  EXPECT_NEAR(s(60), 0.55, 1e-12);  // halfway: min + (max - min) / 2
  EXPECT_NEAR(s(110), 0.1, 1e-12);
  EXPECT_NEAR(s(1000), 0.1, 1e-12);
}

// timm's StepLRScheduler / MultiStepLRScheduler (per epoch, after the warmup) and a constant lr.
TEST(Schedule, PlateauLowersTheLrAfterPatienceEpochsWithoutImprovement) {
  // torch's ReduceLROnPlateau (mode max, threshold 1e-4 rel, patience 2, factor 0.1, min_lr 0.015) step by step.
  PlateauState p;
  p.lr = 1.0;
  const auto step = [&](double top1) { return p.step(top1, /*maximize=*/true, 2, 0.1, 0.015); };
  EXPECT_FALSE(step(50.0));    // first: best
  EXPECT_FALSE(step(50.004));  // not beyond 50 * (1 + 1e-4): bad 1
  EXPECT_FALSE(step(49.0));    // bad 2 (= patience: not yet)
  EXPECT_TRUE(step(49.0));     // bad 3 > 2: lowered
  EXPECT_DOUBLE_EQ(p.lr, 0.1);
  EXPECT_EQ(p.bad_epochs, 0);
  EXPECT_FALSE(step(60.0));    // better: best 60
  EXPECT_DOUBLE_EQ(p.best, 60.0);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(step(10.0));
  EXPECT_TRUE(step(10.0));
  EXPECT_DOUBLE_EQ(p.lr, 0.015);  // 0.01 clamped to min_lr
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(step(10.0));
  EXPECT_FALSE(step(10.0));       // at min_lr: nothing left to lower
  EXPECT_DOUBLE_EQ(p.lr, 0.015);
  // Loss: lower is better.
  PlateauState q;
  q.lr = 1.0;
  EXPECT_FALSE(q.step(2.0, false, 0, 0.5, 0.0));
  EXPECT_FALSE(q.step(1.0, false, 0, 0.5, 0.0));
  EXPECT_TRUE(q.step(1.5, false, 0, 0.5, 0.0));
  EXPECT_DOUBLE_EQ(q.lr, 0.5);
  LrSchedule s;
  s.kind = "plateau";
  s.lr = 1.0;
  s.warmup_steps = 10;
  s.warmup_lr = 0.0;
  EXPECT_DOUBLE_EQ(s(5), 0.5);   // warmup as every schedule
  EXPECT_DOUBLE_EQ(s(50), 1.0);  // no plateau lr yet: lr
  s.plateau_lr = 0.25;
  EXPECT_DOUBLE_EQ(s(50), 0.25);
}

TEST(LayerDecay, TimmsGroupMatcherNumbersTheLayers) {
  // ConViT's matcher: stem (class token, position embedding, patch embedding) 0, each block its own layer, the
  // final norm joins the last block (99999), the unmatched head comes last.
  const std::vector<std::string> names = {"cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight",
                                          "blocks.0.norm1.weight", "blocks.1.mlp.fc1.weight", "blocks.10.mlp.fc1.weight",
                                          "norm.weight", "head.weight", "head.bias"};
  const std::vector<models::GroupMatch> convit = {
      {0, R"(^cls_token|pos_embed|patch_embed)", {}}, {1, R"(^blocks\.(\d+))", {}}, {1, R"(^norm)", {99999}}};
  EXPECT_EQ(layer_ids(names, convit, "head"), (std::vector<int64_t>{0, 0, 0, 1, 1, 2, 3, 3, 4, 4}));  // 10 sorts after 1
  // Without a matcher: timm's auto_group_layers, 12 trunk tensors per layer, the head one layer after.
  std::vector<std::string> many;
  for (int i = 0; i < 26; ++i) many.push_back("trunk." + std::to_string(i));
  many.push_back("head.fc.weight");
  const auto ids = layer_ids(many, {}, "head.fc");
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[11], 0);
  EXPECT_EQ(ids[12], 1);
  EXPECT_EQ(ids[25], 2);
  EXPECT_EQ(ids[26], 3);
}

TEST(LayerDecay, ScalesEachParametersLrByItsLayer) {
  // DaViT: patch_embeds.0 is the stem (layer 0), patch_embeds.N joins main_blocks.N.0 (timm's downsample (0,)).
  auto m = models::create_model("davit", {{"embed_dims", {8, 16, 16, 16}}, {"num_heads", {2, 2, 2, 2}}, {"depths", {1, 1, 1, 1}},
                                          {"window_size", 3}, {"num_classes", 7}});
  auto params = param_groups(*m, m->no_weight_decay());
  const int64_t layers = apply_layer_decay(params, *m, 0.5);
  EXPECT_EQ(layers, 6);  // stem 0, the blocks of stages 0-3 (depth 1 each) 1-4, head 5
  std::map<std::string, double> scale;
  for (const auto& p : params) scale[p.name] = p.lr_scale;
  EXPECT_DOUBLE_EQ(scale.at("patch_embeds.0.proj.weight"), std::pow(0.5, 5));
  EXPECT_DOUBLE_EQ(scale.at("main_blocks.0.0.0.attn.qkv.weight"), std::pow(0.5, 4));
  EXPECT_DOUBLE_EQ(scale.at("patch_embeds.1.proj.weight"), std::pow(0.5, 3));  // with stage 1's first block
  EXPECT_DOUBLE_EQ(scale.at("main_blocks.1.0.0.attn.qkv.weight"), std::pow(0.5, 3));
  EXPECT_DOUBLE_EQ(scale.at("main_blocks.3.0.1.mlp.fc1.weight"), 0.5);
  EXPECT_DOUBLE_EQ(scale.at("norms.weight"), 0.5);  // joins the last block
  EXPECT_DOUBLE_EQ(scale.at("head.weight"), 1.0);
}

TEST(Schedule, StepMultistepNone) {
  LrSchedule s;
  s.lr = 1.0;
  s.warmup_lr = 0.0;
  s.warmup_steps = 5;
  s.steps_per_epoch = 10;
  s.kind = "step";
  s.decay_epochs = 2;
  s.decay_rate = 0.5;
  EXPECT_DOUBLE_EQ(s(0), 0.0);
  EXPECT_DOUBLE_EQ(s(5), 1.0);
  EXPECT_DOUBLE_EQ(s(19), 1.0);   // epoch 1
  EXPECT_DOUBLE_EQ(s(20), 0.5);   // epoch 2
  EXPECT_DOUBLE_EQ(s(45), 0.25);  // epoch 4
  s.kind = "multistep";
  s.milestones = {2, 5};
  EXPECT_DOUBLE_EQ(s(9), 1.0);    // epoch 0: bisect_right([2, 5], 1) = 0
  EXPECT_DOUBLE_EQ(s(10), 0.5);   // epoch 1: bisect_right([2, 5], 2) = 1, as timm (its t + 1)
  EXPECT_DOUBLE_EQ(s(40), 0.25);  // epoch 4
  s.kind = "none";
  EXPECT_DOUBLE_EQ(s(1000), 1.0);
  EXPECT_TRUE(is_schedule_kind("step"));
  EXPECT_TRUE(is_schedule_kind("plateau"));
  EXPECT_FALSE(is_schedule_kind("onecycle"));
  TrainConfig c;
  EXPECT_NE(test::error_of([&] { c.apply_json({{"sched", "onecycle"}}, "r.yaml"); })
                .find("r.yaml: sched: must be cosine, step, multistep, plateau or none, got 'onecycle'"),
            std::string::npos);
  TrainConfig d;
  EXPECT_NE(test::error_of([&] { d.apply_json({{"decay_milestones", {30, 10}}}, "r.yaml"); }).find("must be increasing"),
            std::string::npos);
  TrainConfig e;
  e.apply_json({{"decay_milestones", 30}}, "r.yaml");
  EXPECT_EQ(e.decay_milestones, (std::vector<int64_t>{30}));
}

std::vector<Param> one_param(at::Tensor w, bool decay = true) { return {{"w", w, decay}}; }

TEST(Optim, AdamWMatchesTheFormula) {
  auto w = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_();
  OptimizerOptions o;
  o.weight_decay = 0.1;
  auto opt = make_optimizer(one_param(w), o);
  const auto g = torch::tensor({0.5, 0.25}, torch::kDouble);
  w.mutable_grad() = g.clone();
  opt->step(0.01);
  // step 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2 -> update = g / (|g| + eps) = sign(g)
  auto want = torch::tensor({1.0, -2.0}, torch::kDouble) * (1 - 0.01 * 0.1) - 0.01 * g / (g.abs() + 1e-8);
  EXPECT_LT(test::max_abs_diff(w.detach(), want), 1e-12);
  EXPECT_EQ(opt->steps(), 1);
  // State round trip: a restored optimizer continues identically.
  auto w2 = w.detach().clone().requires_grad_();
  auto opt2 = make_optimizer(one_param(w2), o);
  opt2->load_state_dict(opt->state_dict());
  w.mutable_grad() = g.clone();
  w2.mutable_grad() = g.clone();
  opt->step(0.01);
  opt2->step(0.01);
  EXPECT_TRUE(w.detach().equal(w2.detach()));
}

TEST(Optim, FusedAdamWEqualsTheReferenceOps) {
  // The fused loop (default) against the ATen ops (fused = false): decay and no-decay parameters, a
  // channels-last weight (same strides for its state), several steps, float64 and float32.
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    torch::manual_seed(5);
    std::vector<at::Tensor> a = {torch::randn({7, 3, 3, 3}, dtype).contiguous(at::MemoryFormat::ChannelsLast),
                                 torch::randn({40000}, dtype), torch::randn({5}, dtype)};
    std::vector<at::Tensor> b;
    for (auto& t : a) {
      b.push_back(t.clone().requires_grad_());
      t.requires_grad_();
    }
    auto groups = [](const std::vector<at::Tensor>& ts) {
      return std::vector<Param>{{"w", ts[0], true}, {"big", ts[1], true}, {"bias", ts[2], false}};
    };
    OptimizerOptions fused, ref;
    ref.fused = false;
    auto of = make_optimizer(groups(a), fused), orf = make_optimizer(groups(b), ref);
    for (int s = 0; s < 5; ++s) {
      for (size_t i = 0; i < a.size(); ++i) {
        const auto g = torch::randn_like(a[i]);
        a[i].mutable_grad() = g.clone();
        b[i].mutable_grad() = g.clone();
      }
      of->step(0.01 * (s + 1));
      orf->step(0.01 * (s + 1));
    }
    const double tol = dtype == torch::kDouble ? 1e-12 : 1e-5;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(test::max_abs_diff(a[i].detach(), b[i].detach()), tol) << i;
    auto sa = of->state_dict(), sb = orf->state_dict();
    EXPECT_LT(test::max_abs_diff(*sa.find("big.exp_avg_sq"), *sb.find("big.exp_avg_sq")), tol);
  }
}

TEST(Optim, SgdNesterovAndNoDecayGroups) {
  auto w = torch::tensor({1.0}, torch::kDouble).requires_grad_();
  OptimizerOptions o;
  o.name = "sgd";
  o.weight_decay = 0.5;
  auto opt = make_optimizer(one_param(w, /*decay=*/false), o);
  w.mutable_grad() = torch::tensor({1.0}, torch::kDouble);
  opt->step(0.1);  // buf = 1, d = g + 0.9 buf = 1.9 (no decay for this group)
  EXPECT_NEAR(w.item<double>(), 1.0 - 0.19, 1e-12);
  auto m = models::create_model("van_b0", {{"depths", {1, 1, 1, 1}}});
  auto groups = param_groups(*m, {"layer_scale_1"});
  for (const auto& p : groups) {
    if (p.name.find("layer_scale_1") != std::string::npos || p.tensor.dim() == 1) {
      EXPECT_FALSE(p.decay) << p.name;
    } else {
      EXPECT_TRUE(p.decay) << p.name;
    }
  }
  EXPECT_THROW(make_optimizer({}, [] { OptimizerOptions x; x.name = "adam9"; return x; }()), std::invalid_argument);
}

// SGConv's official `_optim` hint: its kernels (and a learnable decay) train at lr 0.001 under the same schedule;
// every optimizer applies a parameter's lr_scale (timm's group lr_scale) to the scheduled lr.
TEST(Optim, ModuleLrHintsScaleThoseParametersOnly) {
  torch::manual_seed(0);
  modules::GConv g(modules::GConvOptions(4).l_max(32).kernel_dim(8).mode("cat_randn_learnable").lr(0.002));
  std::vector<Param> params;
  for (const auto& p : g->named_parameters()) params.push_back({p.key(), p.value(), true});
  const int64_t hinted = apply_lr_hints(params, *g, 0.05);
  EXPECT_EQ(hinted, static_cast<int64_t>(g->kernel_list->size()) + 1);  // the kernels and the decay
  for (const auto& p : params) {
    const bool kernel = p.name.rfind("kernel_list.", 0) == 0 || p.name == "decay";
    EXPECT_DOUBLE_EQ(p.lr_scale, kernel ? 0.002 / 0.05 : 1.0) << p.name;
  }
  for (const char* name : {"sgd", "adamw"}) {
    auto w = torch::tensor({1.0}, torch::kDouble).requires_grad_();
    auto scaled = one_param(w, /*decay=*/false);
    scaled[0].lr_scale = 0.25;
    OptimizerOptions o;
    o.name = name;
    o.momentum = 0;
    auto opt = make_optimizer(scaled, o);
    w.mutable_grad() = torch::tensor({1.0}, torch::kDouble);
    opt->step(0.4);  // a unit step of lr 0.4 * 0.25 = 0.1 (SGD: the gradient; AdamW: its sign on the first step)
    EXPECT_NEAR(w.item<double>(), 0.9, 1e-6) << name;
  }
}

TEST(Optim, LambTrustRatioAndGradClipping) {
  auto w = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_();  // |w| = 5
  OptimizerOptions o;
  o.name = "lamb";
  o.weight_decay = 0;
  auto opt = make_optimizer(one_param(w), o);
  w.mutable_grad() = torch::tensor({1.0, 1.0}, torch::kDouble);
  opt->step(0.1);
  // update = sign(g) = [1, 1], |update| = sqrt(2): step = 0.1 * 5 / sqrt(2) along [1, 1]
  const double d = 0.1 * 5 / std::sqrt(2.0);
  EXPECT_NEAR(w[0].item<double>(), 3.0 - d, 1e-6);
  w.mutable_grad() = torch::tensor({3.0, 4.0}, torch::kDouble);
  EXPECT_NEAR(clip_grad_norm(opt->params(), 1.0), 5.0, 1e-12);
  EXPECT_NEAR(w.grad().norm().item<double>(), 1.0, 1e-6);
}

TEST(Ema, FollowsTheFormula) {
  torch::nn::Linear lin(2, 1);
  ModelEma ema(*lin, 0.9);
  const auto w0 = lin->weight.detach().clone();
  {
    torch::NoGradGuard ng;
    lin->weight.add_(1.0);
  }
  ema.update(*lin);
  EXPECT_LT(test::max_abs_diff(ema.state()["weight"], w0 * 0.9 + (w0 + 1.0) * 0.1), 1e-6);
}

TrainConfig tiny_config(const fs::path& data, const fs::path& out) {
  TrainConfig c;
  c.model = "van_b0";
  c.model_args = {{"embed_dims", {8, 16, 16, 16}}, {"depths", {1, 1, 1, 1}}, {"mlp_ratios", {2, 2, 2, 2}}};
  c.dataset = "mnist:" + data.string();
  c.in_chans = 1;
  c.img_size = 16;
  c.mean = {0.2, 0.2, 0.2};
  c.std = {0.3, 0.3, 0.3};
  c.crop_pct = 1.0;
  c.no_rrc = true;
  c.pad_crop = 1;
  c.epochs = 3;
  c.batch_size = 8;
  c.lr = 5e-3;
  c.warmup_epochs = 0.5;
  c.workers = 2;
  c.drop_path = 0.1;  // uses the torch RNG: resume must restore it
  c.mixup = 0.2;      // uses the batch RNG
  c.model_ema = true;
  c.model_ema_decay = 0.9;
  c.output = out.string();
  c.log_interval = 2;
  return c;
}

TEST(Trainer, LearnsWritesLogsAndCheckpoints) {
  auto tmp = test::temp_dir("train_learn");
  auto data = test::write_tiny_idx(tmp / "data", 128, 64);
  auto cfg = tiny_config(data, tmp / "out");
  cfg.epochs = 6;
  auto r = run_training(cfg);
  // 4 classes: chance is 25%. The best epoch, not the last: a 6-epoch run of a tiny BatchNorm model on
  // batches of 8 is noisy.
  EXPECT_GT(r.best_top1, 70.0);
  EXPECT_GE(r.best_top1, r.final_top1 - 1e-9);
  std::ifstream csv(tmp / "out" / "summary.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,img_s,ema_loss,ema_top1,ema_top5");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 6);
  std::ifstream log(tmp / "out" / "log.jsonl");
  int epochs = 0, steps = 0;
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "epoch") ++epochs;
    if (j["type"] == "step") ++steps;
  }
  EXPECT_EQ(epochs, 6);
  EXPECT_GT(steps, 0);
  auto ck = checkpoint::read_safetensors((tmp / "out" / "last.safetensors").string());
  EXPECT_EQ(ck.metadata.at("attnzoo.envelope"), "1");
  EXPECT_NE(ck.tensors.find("state_dict_ema.head.weight"), nullptr);
  EXPECT_NE(ck.tensors.find("optimizer.step"), nullptr);
  EXPECT_TRUE(fs::exists(tmp / "out" / "best.safetensors"));
}

TEST(Trainer, ResumeAfterAKillGivesTheSameFinalWeights) {
  auto tmp = test::temp_dir("train_resume");
  auto data = test::write_tiny_idx(tmp / "data", 96, 32);
  // Uninterrupted run.
  auto full = tiny_config(data, tmp / "full");
  run_training(full);
  // Killed after 17 updates (mid-epoch 2 of 12 updates each); the last checkpoint is at update 16.
  auto killed = tiny_config(data, tmp / "killed");
  killed.checkpoint_every = 4;
  killed.stop_after_steps = 17;
  EXPECT_THROW(run_training(killed), std::runtime_error);
  auto resumed = tiny_config(data, tmp / "killed");
  resumed.checkpoint_every = 4;
  resumed.resume = (tmp / "killed" / "last.safetensors").string();
  run_training(resumed);
  auto a = checkpoint::read_safetensors((tmp / "full" / "last.safetensors").string()).tensors;
  auto b = checkpoint::read_safetensors((tmp / "killed" / "last.safetensors").string()).tensors;
  int compared = 0;
  for (const auto& item : a) {
    if (item.key().rfind("state_dict", 0) != 0 && item.key().rfind("optimizer", 0) != 0) continue;
    ASSERT_NE(b.find(item.key()), nullptr) << item.key();
    EXPECT_TRUE(item.value().equal(b[item.key()])) << item.key() << " differs by "
                                                   << test::max_abs_diff(item.value(), b[item.key()]);
    ++compared;
  }
  EXPECT_GT(compared, 50);
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  auto tmp = test::temp_dir("train_nan");
  auto data = test::write_tiny_idx(tmp / "data", 64, 16);
  auto cfg = tiny_config(data, tmp / "out");
  cfg.epochs = 1;
  cfg.model_ema = false;
  run_training(cfg);
  const auto good = checkpoint::read_safetensors((tmp / "out" / "last.safetensors").string()).tensors;
  cfg.resume = (tmp / "out" / "last.safetensors").string();
  cfg.epochs = 2;
  cfg.lr = 1e30;
  cfg.warmup_epochs = 0;
  cfg.min_lr = 1e30;
  try {
    run_training(cfg);
    FAIL() << "expected a non-finite loss";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("loss is"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("last good checkpoint"), std::string::npos) << e.what();
  }
  const auto after = checkpoint::read_safetensors((tmp / "out" / "last.safetensors").string()).tensors;
  EXPECT_TRUE(after["state_dict.head.weight"].equal(good["state_dict.head.weight"]));
}

TEST(TrainConfig, RecipeKeysAreFlagNames) {
  TrainConfig c;
  c.apply_json({{"batch-size", 64}, {"label_smoothing", 0.2}, {"on-bad-image", "skip"}, {"data", "mnist:/x"},
                {"model_args", {{"depths", {1, 1, 1, 1}}}}},
               "recipe.yaml");
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.smoothing, 0.2);
  EXPECT_TRUE(c.skip_bad_images);
  EXPECT_EQ(c.dataset, "mnist:/x");
  EXPECT_EQ(c.model_args["depths"], nlohmann::json({1, 1, 1, 1}));
  try {
    c.apply_json({{"epochz", 3}}, "recipe.yaml");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("recipe.yaml: unknown key 'epochz'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.apply_json({{"epochs", "many"}}, "r"), std::invalid_argument);
}

}  // namespace

namespace {

// Every recipe under configs/ parses, uses only known keys, and names a buildable model configuration.
TEST(Recipes, EveryShippedRecipeIsValid) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(ATTNZOO_CONFIGS_DIR)) {
    if (e.path().extension() != ".yaml") continue;
    ++n;
    const auto j = read_config_file(e.path().string());
    if (j.contains("task")) {  // a sequence (LRA) recipe
      train::LRATrainConfig c;
      ASSERT_NO_THROW(c.apply_json(j, e.path().string())) << e.path();
      EXPECT_NO_THROW(c.validate()) << e.path();
      EXPECT_NO_THROW(models::lra_encoder_options_from_args(models::lra_variant_args(c.model))) << e.path();
      continue;
    }
    TrainConfig c;
    ASSERT_NO_THROW(c.apply_json(j, e.path().string())) << e.path();
    EXPECT_NO_THROW(models::registry().resolve_args(c.model, c.model_args)) << e.path();
    EXPECT_GT(c.epochs, 0) << e.path();
  }
  EXPECT_GE(n, 13);
}

}  // namespace

// --amp: autocast regions and loss scaling.
TEST(Amp, AutocastGuardLowersMatmulsAndKeepsLayerNormWorking) {
  const at::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    train::AutocastGuard g(torch::kCPU, at::kBFloat16);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), at::kBFloat16);
    torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({8}));
    const at::Tensor y = ln(torch::matmul(a, torch::randn({8, 8})));  // bf16 input, float32 weights
    EXPECT_EQ(y.scalar_type(), at::kFloat);
  }
  EXPECT_EQ(torch::matmul(a, b).scalar_type(), at::kFloat);  // restored on exit
  { train::AutocastGuard off(torch::kCPU, at::ScalarType::Undefined); EXPECT_EQ(torch::matmul(a, b).scalar_type(), at::kFloat); }
  EXPECT_EQ(train::amp_dtype("bf16", torch::kCPU), at::kBFloat16);
  EXPECT_EQ(train::amp_dtype("", torch::kCPU), at::ScalarType::Undefined);
  EXPECT_THROW(train::amp_dtype("fp16", torch::kCPU), std::invalid_argument);
  EXPECT_THROW(train::amp_dtype("fp8", torch::kCPU), std::invalid_argument);
}

TEST(Amp, GradScalerSkipsNonFiniteStepsAndAdaptsTheScale) {
  train::GradScaler s(true, 1024.0, /*growth_interval=*/2);
  at::Tensor p = torch::ones({3}, torch::requires_grad());
  p.mutable_grad() = torch::full({3}, 2048.0);
  EXPECT_TRUE(s.unscale_and_check({p}));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, 2.0)));
  p.mutable_grad() = torch::tensor({1.0, std::numeric_limits<double>::infinity(), 0.0}).to(torch::kFloat);
  EXPECT_FALSE(s.unscale_and_check({p}));
  EXPECT_EQ(s.scale(), 512.0);
  for (int i = 0; i < 2; ++i) {
    p.mutable_grad() = torch::ones({3});
    EXPECT_TRUE(s.unscale_and_check({p}));
  }
  EXPECT_EQ(s.scale(), 1024.0);  // doubled after growth_interval clean steps
}

namespace {

// --lr-base follows timm's train.py: lr = lr_base * global_batch / lr_base_size (256), square-rooted for the
// adaptive optimizers (adam*, lamb) and linear for SGD unless --lr-base-scale says; --lr wins.
TEST(LearningRate, LrBaseFollowsTimmsRule) {
  using attnzoo::train::TrainConfig;
  using attnzoo::train::resolved_lr;
  TrainConfig c;
  c.lr_base = 1e-3;
  c.batch_size = 64;
  c.world_size = 4;  // global 256: ratio 1
  EXPECT_DOUBLE_EQ(resolved_lr(c), 1e-3);
  c.world_size = 1;  // global 64: sqrt(1/4) for adamw
  EXPECT_DOUBLE_EQ(resolved_lr(c), 5e-4);
  c.opt = "sgd";
  EXPECT_DOUBLE_EQ(resolved_lr(c), 2.5e-4);
  c.opt = "lamb";
  EXPECT_DOUBLE_EQ(resolved_lr(c), 5e-4);
  c.lr_base_scale = "linear";
  EXPECT_DOUBLE_EQ(resolved_lr(c), 2.5e-4);
  c.lr_base_size = 512;  // the official recipes' rule (configs/imagenet): linear over 512
  std::string how;
  EXPECT_DOUBLE_EQ(resolved_lr(c, &how), 1.25e-4);
  EXPECT_EQ(how, "lr_base 0.001 x (64/512)");
  c.lr = 0.01;
  EXPECT_DOUBLE_EQ(resolved_lr(c, &how), 0.01);
  EXPECT_EQ(how, "--lr");
  TrainConfig bad;
  EXPECT_THROW(bad.apply_json({{"lr_base_scale", "cubic"}}, "recipe.yaml"), std::invalid_argument);
  EXPECT_THROW(bad.apply_json({{"lr_base_size", 0}}, "recipe.yaml"), std::invalid_argument);
}

}  // namespace
