// Values and files that must be refused (issue #19), through the attnzoo executable: each gives exit 1 or 2
// and exactly one line naming the flag or file, the value and what is allowed.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/datasets/lra.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

struct Result {
  int code;
  std::string out;
};

Result run(const std::string& args) {
  Result r;
  r.code = test::run_command(test::cli() + " --threads 1 " + args, &r.out);
  return r;
}

// Exit 1 or 2 and one line equal to (or, with `prefix`, starting with) `expected`.
void expect_refused(const std::string& args, const std::string& expected, bool prefix = false) {
  const Result r = run(args);
  EXPECT_TRUE(r.code == 1 || r.code == 2) << args << " -> exit " << r.code << "\n" << r.out;
  std::string line = r.out;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos) << args << " printed several lines:\n" << r.out;
  if (prefix) EXPECT_EQ(line.rfind(expected, 0), 0u) << args << "\n" << r.out;
  else EXPECT_EQ(line, expected) << args;
}

std::string write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

TEST(CliHostile, TrainValuesNameTheFlagAndTheRange) {
  expect_refused("train --epochs 0", "attnzoo: --epochs: 0 is not an integer in [1, 100000]");
  expect_refused("train --epochs 1e20", "attnzoo: --epochs: 1e+20 is not an integer in [1, 100000]");
  expect_refused("train --img-size 0", "attnzoo: --img-size: 0 is not an integer in [8, 8192] (or -1 for the default)");
  expect_refused("train --num-classes -2",
                 "attnzoo: --num-classes: -2 is not an integer in [1, 1000000] (or -1 for the default)");
  expect_refused("train --lr -1", "attnzoo: --lr: -1 is not a number in [0, 100]");
  expect_refused("train --lr 1e400", "attnzoo: --lr: line 1: 1e400 is beyond the range of a 64-bit float");
  expect_refused("train --workers 100000", "attnzoo: --workers: 100000 is not an integer in [1, 256]");
  expect_refused("train --device gpu", "attnzoo: --device gpu: expected cpu, cuda or cuda:N");
  expect_refused("train --task lra-listops --steps 0", "attnzoo: --steps: 0 is not an integer in [1, 1000000000]");
}

TEST(CliHostile, RecipesNameTheFileAndTheKey) {
  const fs::path tmp = test::temp_dir("cli_hostile_recipes");
  expect_refused("train --config " + write(tmp / "a.yaml", "num_classes: 1e300\n"),
                 "attnzoo: " + (tmp / "a.yaml").string() +
                     ": num_classes: 1e+300 is not an integer in [1, 1000000] (or -1 for the default)");
  expect_refused("train --config " + write(tmp / "b.yaml", "lr: 1e400\n"),
                 "attnzoo: " + (tmp / "b.yaml").string() + ": line 1: 1e400 is beyond the range of a 64-bit float");
  expect_refused("train --config " + write(tmp / "c.yaml", "model: \"\xff\"\n"),
                 "attnzoo: " + (tmp / "c.yaml").string() + ": line 1: not UTF-8 text (byte 8)");
  expect_refused("train --config " + write(tmp / "d.yaml", ""),
                 "attnzoo: " + (tmp / "d.yaml").string() +
                     ": the recipe is empty (expected flag: value lines, e.g. model: van_b0)");
  expect_refused("train --config " + write(tmp / "e.yaml", "x: &a [*a]"),
                 "attnzoo: " + (tmp / "e.yaml").string() + ": nested deeper than 1000 levels (a recursive YAML alias?)");
  const std::string input = (tmp / "x.safetensors").string();
  checkpoint::write_safetensors(input, {{"x", torch::zeros({1, 3, 32, 32})}});
  expect_refused("forward --model van_b0 --config " + (tmp / "e.yaml").string() + " --input " + input +
                     " --output " + (tmp / "o.safetensors").string(),
                 "attnzoo: --model van_b0: " + (tmp / "e.yaml").string() +
                     ": nested deeper than 1000 levels (a recursive YAML alias?)");
}

TEST(CliHostile, ModelArgumentsAreValidated) {
  expect_refused("info --model van_b0 --set depths=[100000,1,1,1]",
                 "attnzoo: --model van_b0: van: argument 'depths' asks for 100003 blocks; at most 1000 are allowed");
  expect_refused("info --model van_b0 --set depths=[1099511627776,1,1,1]",
                 "attnzoo: --model van_b0: van: argument 'depths' is out of range: [1099511627776,1,1,1] (|value| <= 1048576)");
  expect_refused("info --model van_b0 --set embed_dims=[0,8,8,8]",
                 "attnzoo: --model van_b0: van: argument 'embed_dims' must be at least 1, got [0,8,8,8]");
  expect_refused("info --model van_b0 --set num_classes=1e300",
                 "attnzoo: --model van_b0: van: argument 'num_classes' must be integer(s), got 1e+300");
}

TEST(CliHostile, ForwardInputsNameTheFileAndTheExpectedShape) {
  const fs::path tmp = test::temp_dir("cli_hostile_forward");
  const std::string zero = (tmp / "zero.safetensors").string(), flat = (tmp / "flat.safetensors").string();
  checkpoint::write_safetensors(zero, {{"x", torch::zeros({0, 3, 32, 32})}});
  checkpoint::write_safetensors(flat, {{"x", torch::zeros({3, 32})}});
  const std::string out = " --output " + (tmp / "o.safetensors").string();
  expect_refused("forward --model van_b0 --input " + zero + out,
                 "attnzoo: --input " + zero + ": tensor of shape [0, 3, 32, 32], expected [N, C, H, W] with N >= 1, e.g. [1, 3, 224, 224]");
  expect_refused("forward --module van.LKA --set dim=3 --input " + flat + out,
                 "attnzoo: --input " + flat + " (shape [3, 32]): LKA: expected input [B, 3, H, W], got [3, 32]");
  expect_refused("predict --model van_b0 --device cuda:7 " + zero, "attnzoo: --device: cuda:7: ", /*prefix=*/true);
}

TEST(CliHostile, WeightsOfTheWrongKindAreRefusedNotCast) {
  torch::nn::Linear lin(2, 2);
  checkpoint::TensorDict w;
  w.insert("weight", torch::ones({2, 2}, torch::kLong));
  w.insert("bias", torch::zeros({2}, torch::kDouble));  // another float precision: fine
  const auto report = checkpoint::compare_state_dict(*lin, w);
  ASSERT_EQ(report.mismatched.size(), 1u);
  EXPECT_EQ(report.mismatched[0], "weight: checkpoint Long vs model Float");
  EXPECT_THROW(checkpoint::load_state_dict(*lin, w, /*strict=*/true, "w.safetensors"), std::runtime_error);
}

TEST(CliHostile, PathfinderMetadataRowsAreCountedAndConfined) {
  const fs::path root = test::temp_dir("cli_hostile_pathfinder");
  fs::create_directories(root / "metadata");
  fs::create_directories(root / "imgs" / "0");
  write(root / "metadata" / "0.npy", "imgs/0 missing.png 0 1\nimgs 0 0 0\n");  // a missing file, a directory
  std::vector<std::string> warnings;
  auto previous = set_warning_sink([&](const std::string& l) { warnings.push_back(l); });
  try {
    datasets::open_pathfinder(root.string(), /*skip_bad=*/true);  // as the LRA trainer reads it
    ADD_FAILURE() << "no usable rows must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              root.string() + ": no usable pathfinder samples in metadata/ (all 2 rows point at missing images)");
  }
  set_warning_sink(previous);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind(root.string() + ": skipped 2 metadata row(s)", 0), 0u) << warnings[0];

  write(root / "metadata" / "0.npy", "../../etc passwd 0 1\n");
  try {
    datasets::open_pathfinder(root.string());
    ADD_FAILURE() << "a path outside the root must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("0.npy:1: image path '../../etc/passwd' leads outside the dataset folder"),
              std::string::npos)
        << e.what();
  }
  write(root / "metadata" / "0.npy", "imgs/0 a.png 0 " + std::string(5 << 20, '7') + "x\n");
  try {
    datasets::open_pathfinder(root.string());
  } catch (const std::runtime_error& e) {
    EXPECT_LT(std::string(e.what()).size(), 400u);
  }
}

}  // namespace
