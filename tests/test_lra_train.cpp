// The LRA trainer's recovery and scale-out: a run stopped and resumed ends bit-identical to an uninterrupted
// one, resuming with other flags is refused, and 2 data-parallel ranks x batch B/2 equal 1 process x B.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/train/lra.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

fs::path listops_data(const fs::path& dir) {
  std::string out;
  EXPECT_EQ(test::run_command(test::cli() + " data make-listops " + (dir / "lo").string() +
                                  " --sizes 96 24 24 --min-length 10 --max-length 60 --seed 5",
                              &out),
            0)
      << out;
  return dir / "lo";
}

std::string lra_args(const fs::path& data, const fs::path& out, const std::string& extra = "") {
  return " train --task lra-listops --data " + data.string() + " --model lra_tiny --steps 8 --batch-size 8 --eval-every 4"
         " --warmup-steps 2 --output " + out.string() + extra;
}

// Largest difference between the weights of two final.safetensors (-1 when the key sets differ).
double weight_diff(const fs::path& a, const fs::path& b) {
  const auto x = checkpoint::read_safetensors((a / "final.safetensors").string()).tensors;
  const auto y = checkpoint::read_safetensors((b / "final.safetensors").string()).tensors;
  if (x.size() != y.size() || x.size() == 0) return -1;
  double d = 0;
  for (const auto& item : x) {
    if (!y.contains(item.key())) return -1;
    d = std::max(d, test::max_abs_diff(item.value(), y[item.key()]));
  }
  return d;
}

TEST(LRATrain, LearningRateSchedulesFollowLRA) {
  train::LRATrainConfig c;
  c.lr = 0.05;
  c.warmup_steps = 1000;
  c.steps = 5000;
  // rsqrt: base * min(1, s / w) / sqrt(max(s, w)); the peak is base / sqrt(w) at s = w.
  EXPECT_NEAR(train::lra_learning_rate(c, 1), 0.05 * 1e-3 / std::sqrt(1000.0), 1e-15);
  EXPECT_NEAR(train::lra_learning_rate(c, 1000), 0.05 / std::sqrt(1000.0), 1e-15);
  EXPECT_NEAR(train::lra_learning_rate(c, 4000), 0.05 / 2 / std::sqrt(1000.0), 1e-15);
  // cosine: base * min(1, s / w) * 0.5 (1 + cos(pi (s - w) / (steps - w))).
  c.schedule = "cosine";
  c.lr = 1e-3;
  EXPECT_NEAR(train::lra_learning_rate(c, 500), 0.5e-3, 1e-15);
  EXPECT_NEAR(train::lra_learning_rate(c, 1000), 1e-3, 1e-15);
  EXPECT_NEAR(train::lra_learning_rate(c, 3000), 0.5e-3, 1e-15);
  EXPECT_NEAR(train::lra_learning_rate(c, 5000), 0.0, 1e-15);
  c.schedule = "linear";
  EXPECT_THROW(c.validate(), std::invalid_argument);
  train::LRATrainConfig d;
  EXPECT_THROW(d.apply_json({{"epochs", 3}}, "recipe.yaml"), std::invalid_argument);
  EXPECT_THROW(d.apply_json({{"steps", "many"}}, "recipe.yaml"), std::invalid_argument);
  d.apply_json({{"warmup-steps", 7}, {"set", {{"attention", "lka"}}}, {"num_classes", 4}}, "recipe.yaml");
  EXPECT_EQ(d.warmup_steps, 7);
  EXPECT_EQ(d.text_classes, 4);
  EXPECT_EQ(d.model_args.at("attention"), "lka");
}

TEST(LRATrain, StoppedAndResumedRunEqualsTheUninterruptedOne) {
  const auto dir = test::temp_dir("lra_resume");
  const auto data = listops_data(dir);
  std::string out;
  // Dropout on (0.1 in lra_tiny): its stream must be restored too.
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + lra_args(data, dir / "full"), &out), 0) << out;
  {
    std::ofstream recipe(dir / "stop.yaml");  // a recipe: the keys are the flag names
    recipe << "stop_after_steps: 5\ncheckpoint-every: 5\n";
  }
  EXPECT_NE(test::run_command(test::cli() + " --threads 1" + lra_args(data, dir / "cut", " --config " + (dir / "stop.yaml").string()),
                              &out),
            0);
  EXPECT_NE(out.find("stopped after 5 steps"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir / "cut" / "final.safetensors"));
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" +
                                  lra_args(data, dir / "cut", " --resume " + (dir / "cut" / "last.safetensors").string()),
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("resumed at step 5"), std::string::npos) << out;
  EXPECT_EQ(weight_diff(dir / "full", dir / "cut"), 0.0);
  // The log holds every evaluation once (steps 4 and 8), the second appended by the resumed run.
  std::ifstream log(dir / "cut" / "log.jsonl");
  std::string l1, l2, l3;
  std::getline(log, l1);
  std::getline(log, l2);
  EXPECT_NE(l1.find("\"step\":4"), std::string::npos) << l1;
  EXPECT_NE(l2.find("\"step\":8"), std::string::npos) << l2;
  EXPECT_FALSE(std::getline(log, l3));

  // attnzoo eval rebuilds the model and the task from either checkpoint and reproduces result.json's accuracy.
  std::ifstream rf(dir / "full" / "result.json");
  const auto result = nlohmann::json::parse(rf);
  for (const char* file : {"final.safetensors", "last.safetensors"}) {
    ASSERT_EQ(test::run_command(test::cli() + " eval --json --checkpoint " + (dir / "full" / file).string(), &out), 0) << out;
    const auto j = nlohmann::json::parse(out.substr(out.find('{')));
    EXPECT_DOUBLE_EQ(j.at("accuracy").get<double>(), result.at("test_accuracy").get<double>()) << file;
    EXPECT_EQ(j.at("count"), 24);
  }
  ASSERT_EQ(test::run_command(test::cli() + " eval --json --split val --checkpoint " + (dir / "full" / "final.safetensors").string(), &out), 0);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(out.substr(out.find('{'))).at("accuracy").get<double>(),
                   result.at("val_accuracy").get<double>());

  // Another seed or model is another run: refused with both descriptions.
  EXPECT_NE(test::run_command(test::cli() + lra_args(data, dir / "cut2", " --seed 7 --resume " +
                                                                             (dir / "cut" / "last.safetensors").string()),
                              &out),
            0);
  EXPECT_NE(out.find("written by another run"), std::string::npos) << out;
  EXPECT_NE(test::run_command(test::cli() + lra_args(data, dir / "cut3", " --resume " + (dir / "full" / "result.json").string()),
                              &out),
            0);
  EXPECT_NE(out.find("result.json"), std::string::npos) << out;
}

TEST(LRATrain, TwoRanksMatchOneProcess) {
  const auto dir = test::temp_dir("lra_dist");
  const auto data = listops_data(dir);
  std::string out;
  // No dropout (each rank draws its own masks); ranks pad their halves to different lengths, which the
  // key padding masks make irrelevant up to float32 summation order. Adam's update divides by sqrt(v) + eps:
  // with LRA's eps 1e-9 the gradients that are zero in exact arithmetic (the key bias: softmax ignores it)
  // but ~1e-10 in float32 turn into full-size steps of either sign, so this comparison uses eps 1e-4.
  const std::string same = " --set dropout=0 --opt-eps 1e-4";
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + lra_args(data, dir / "one", same), &out), 0) << out;
  ASSERT_EQ(test::run_command(test::cli() + lra_args(data, dir / "two", same + " --nproc 2 --dist-verify"), &out), 0)
      << out;
  EXPECT_NE(out.find("launching 2 workers"), std::string::npos) << out;
  EXPECT_NE(out.find("(2 processes)"), std::string::npos) << out;
  const double d = weight_diff(dir / "one", dir / "two");
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-5);
  // The global batch must split evenly.
  EXPECT_NE(test::run_command(test::cli() + " train --task lra-listops --data " + data.string() + " --steps 2 --batch-size 7 --nproc 2 --output " +
                                  (dir / "odd").string(), &out), 0);
  EXPECT_NE(out.find("multiple of the 2"), std::string::npos) << out;
}

// A worker killed mid-run: the run fails; resumed on 2 ranks it ends where the uninterrupted 2-rank run does.
TEST(LRATrain, DataParallelResumeAfterAKilledWorker) {
  const auto dir = test::temp_dir("lra_dist_resume");
  const auto data = listops_data(dir);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + lra_args(data, dir / "full", " --nproc 2"), &out), 0) << out;
  EXPECT_NE(test::run_command("ATTNZOO_FAULT_INJECT=1:3 " + test::cli() +
                                  lra_args(data, dir / "cut", " --nproc 2 --checkpoint-every 2 --dist-timeout 60"),
                              &out),
            0);
  EXPECT_NE(out.find("worker rank"), std::string::npos) << out;
  ASSERT_TRUE(fs::exists(dir / "cut" / "last.safetensors"));
  ASSERT_EQ(test::run_command(test::cli() + lra_args(data, dir / "cut", " --nproc 2 --resume " +
                                                                           (dir / "cut" / "last.safetensors").string()),
                              &out),
            0)
      << out;
  EXPECT_EQ(weight_diff(dir / "full", dir / "cut"), 0.0);
}

}  // namespace
