// The attnzoo executable end to end: outputs, exit codes (2 usage, 1 failure) and one-line errors.
#include "test_util.h"

#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/sequence_registry.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/safetensors.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

int run(const std::string& args, std::string* out) { return test::run_command(test::cli() + " " + args, out); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

TEST(Cli, ListAndListModules) {
  std::string out;
  ASSERT_EQ(run("list", &out), 0) << out;
  EXPECT_TRUE(contains(out, "van_b0\nvan_b1\nvan_b2\nvan_b3\nvan_b4\nvan_b5\nvan_b6\n")) << out;
  ASSERT_EQ(run("list 'van_b[' ", &out), 0);
  ASSERT_EQ(run("list '*b1'", &out), 0);
  EXPECT_EQ(out, "van_b1\n");
  ASSERT_EQ(run("list --modules", &out), 0);
  EXPECT_TRUE(contains(out, "van.LKA")) << out;
  ASSERT_EQ(run("list --help", &out), 0);
  EXPECT_TRUE(contains(out, "--modules")) << out;
  // The sequence attentions are the names lra_encoder's `attention` accepts.
  ASSERT_EQ(run("list --attentions", &out), 0);
  for (const auto& a : modules::sequence_attentions()) EXPECT_TRUE(contains(out, a.name + "\t")) << out;
  EXPECT_EQ(modules::sequence_attentions().size(), 15u);
}

// `forward --module` runs every module case of the fixtures from the command line: the --input file's tensors by
// the forward's input names (masks, q/k/v stacks, relative-position tables), --forward-arg for H / W / size, and
// every output written under its name.
TEST(Cli, ForwardRunsEveryModuleFixture) {
  auto dir = test::temp_dir("cli_forward_modules");
  const std::string out_file = (dir / "out.safetensors").string();
  int cases = 0;
  for (const auto& fam : fs::directory_iterator(test::fixtures_dir())) {
    if (!fam.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(fam.path())) {
      if (f.path().extension() != ".json") continue;
      const fs::path base = f.path().parent_path() / f.path().stem();
      if (!fs::exists(base.string() + ".io.safetensors")) continue;
      const auto spec = test::read_json(f.path());
      if (spec.at("kind") != "module") continue;
      const std::string cls = spec.at("official").at("class");
      std::string family = fam.path().filename().string();
      for (const auto& m : modules::module_entries())
        if (m.family == test::official_file_stem(spec) && m.official == cls) family = m.family;
      attnzoo::write_file_atomic((dir / "cfg.json").string(), spec.at("config").dump());
      std::string args;
      const nlohmann::json extra = spec.value("extra_forward_args", nlohmann::json::object());  // kept: items() refers to it
      for (const auto& [k, v] : extra.items()) args += " " + k + "=" + v.dump();
      std::string out;
      const std::string cmd = "forward --module " + family + "." + cls + " --config " + (dir / "cfg.json").string() +
                              " --weights " + base.string() + ".weights.safetensors --input " + base.string() +
                              ".io.safetensors --output " + out_file + " --dtype float64" +
                              (args.empty() ? "" : " --forward-arg" + args);
      ASSERT_EQ(run(cmd, &out), 0) << cmd << "\n" << out;
      const auto got = checkpoint::read_safetensors(out_file).tensors;
      const auto want = checkpoint::read_safetensors(base.string() + ".io.safetensors").tensors;
      const auto outputs = spec.at("output_names").get<std::vector<std::string>>();
      for (size_t i = 0; i < outputs.size(); ++i) {
        const std::string name = outputs.size() == 1 ? "y" : "y." + std::to_string(i);
        ASSERT_NE(got.find(name), nullptr) << f.path() << " " << name;
        EXPECT_LT(test::max_abs_diff(got[name], want[outputs[i]]), 1e-8) << f.path() << " " << outputs[i];
      }
      ++cases;
    }
  }
  EXPECT_GT(cases, 40);
  // Forward arguments the module does not read, and a missing first input, are one-line usage errors.
  const fs::path F = test::fixtures_dir() / "van";
  std::string out;
  EXPECT_EQ(run("forward --module van.LKA --set dim=32 --input " + (F / "lka_dim32.io.safetensors").string() +
                    " --output " + out_file + " --forward-arg H=7",
                &out),
            2);
  EXPECT_TRUE(contains(out, "--forward-arg H: van.LKA takes no forward arguments")) << out;
  EXPECT_EQ(run("list --modules moh.Attention --json", &out), 0) << out;
  EXPECT_TRUE(contains(out, "\"relative_pos_index\"")) << out;
}

TEST(Cli, InfoKeysJsonEqualsOfficialKeyList) {
  std::string out;
  ASSERT_EQ(run("--threads 1 info van_b1 --keys --json", &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  auto ref = test::read_json(test::fixtures_dir() / "van" / "keys" / "van_b1.json");
  EXPECT_EQ(j["state_dict"], ref["state_dict"]);
  EXPECT_EQ(j["num_params"], ref["num_params"]);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_DOUBLE_EQ(j["pretrained_cfg"]["crop_pct"].get<double>(), 0.9);
  ASSERT_EQ(run("info van_b0", &out), 0);
  EXPECT_TRUE(contains(out, "parameters:     4105800")) << out;
  EXPECT_TRUE(contains(out, "threads:")) << out;
}

TEST(Cli, ForwardReproducesFixtureFromReleaseCheckpoint) {
  const fs::path F = test::fixtures_dir() / "van";
  const auto spec = test::read_json(F / "van_reduced_64.json");
  auto dir = test::temp_dir("cli_forward");
  attnzoo::write_file_atomic((dir / "cfg.json").string(), spec["config"].dump());
  const std::string out_file = (dir / "out.safetensors").string();
  std::string out;
  const std::string cmd = "forward --model van --config " + (dir / "cfg.json").string() + " --weights " +
                          (F / "van_reduced_64.checkpoint.pth").string() + " --input " +
                          (F / "van_reduced_64.io.safetensors").string() + " --output " + out_file +
                          " --dtype float64 --features";
  ASSERT_EQ(run(cmd, &out), 0) << out;
  auto got = checkpoint::read_safetensors(out_file).tensors;
  auto want = checkpoint::read_safetensors((F / "van_reduced_64.io.safetensors").string()).tensors;
  for (const std::string k : {"logits", "features.0", "features.1", "features.2", "features.3"}) {
    ASSERT_NE(got.find(k), nullptr) << k;
    EXPECT_LT(test::max_abs_diff(got[k], want[k]), 1e-9) << k;
  }
  // timm's forward_intermediates from the command line: the selected stages, the final features and the logits.
  ASSERT_EQ(run(cmd + " --intermediates --indices=1,-1", &out), 0) << out;
  got = checkpoint::read_safetensors(out_file).tensors;
  EXPECT_LT(test::max_abs_diff(got["intermediates.0"], want["features.1"]), 1e-9);
  EXPECT_LT(test::max_abs_diff(got["intermediates.1"], want["features.3"]), 1e-9);
  EXPECT_LT(test::max_abs_diff(got["logits"], want["logits"]), 1e-9);
  EXPECT_EQ(got.find("intermediates.2"), nullptr);
  ASSERT_EQ(run(cmd + " --intermediates --indices=0 --stop-early --output-fmt NHWC", &out), 0) << out;
  got = checkpoint::read_safetensors(out_file).tensors;
  EXPECT_LT(test::max_abs_diff(got["intermediates.0"], want["features.0"].permute({0, 2, 3, 1})), 1e-9);
  EXPECT_EQ(got.find("logits"), nullptr);  // the later stages never ran
  EXPECT_EQ(run(cmd + " --intermediates --indices=7", &out), 2);
  EXPECT_NE(out.find("--intermediates: feature index 7 is out of range for 4 stages"), std::string::npos) << out;
  EXPECT_EQ(run(cmd + " --intermediates --indices=one", &out), 2);
  EXPECT_NE(out.find("--indices one: expected stage numbers like 0,2,-1"), std::string::npos) << out;
  // --set overrides win over --config; a module runs with --module.
  ASSERT_EQ(run("forward --module van.LKA --set dim=32 --weights " + (F / "lka_dim32.weights.safetensors").string() +
                    " --input " + (F / "lka_dim32.io.safetensors").string() + " --output " + out_file +
                    " --dtype float64",
                &out),
            0)
      << out;
  EXPECT_LT(test::max_abs_diff(checkpoint::read_safetensors(out_file).tensors["y"],
                               checkpoint::read_safetensors((F / "lka_dim32.io.safetensors").string()).tensors["y"]),
            1e-9);
}

// A misspelt subcommand or flag names the closest one; --threads is accepted after the subcommand too.
TEST(Cli, MisspellingsGetDidYouMean) {
  std::string out;
  EXPECT_EQ(run("trian", &out), 2);
  EXPECT_NE(out.find("'trian' is not a command (did you mean 'train'?)"), std::string::npos) << out;
  EXPECT_EQ(run("xyzzy", &out), 2);
  EXPECT_NE(out.find("'xyzzy' is not a command (commands: list, info,"), std::string::npos) << out;
  EXPECT_EQ(run("train --epoch 3", &out), 2);
  EXPECT_NE(out.find("(did you mean --epochs?)"), std::string::npos) << out;
  EXPECT_EQ(run("eval --chekpoint x", &out), 2);
  EXPECT_NE(out.find("(did you mean --checkpoint?)"), std::string::npos) << out;
  ASSERT_EQ(run("info van_b0 --threads 3", &out), 0) << out;
  EXPECT_NE(out.find("threads:        3"), std::string::npos) << out;
}

TEST(Cli, BadInputsGiveOneLineErrorsAndExitCodes) {
  const fs::path F = test::fixtures_dir() / "van";
  auto dir = test::temp_dir("cli_errors");
  const std::string in = (F / "van_reduced_64.io.safetensors").string();
  const std::string out_file = (dir / "o.safetensors").string();
  std::string out;
  // Usage errors: exit 2.
  EXPECT_EQ(run("", &out), 2);
  EXPECT_EQ(run("frobnicate", &out), 2);
  EXPECT_EQ(run("forward --model van_b0 --output x", &out), 2);  // --input missing
  EXPECT_TRUE(contains(out, "--input")) << out;
  EXPECT_EQ(run("forward --model van_b99 --input " + in + " --output " + out_file, &out), 2);
  EXPECT_TRUE(contains(out, "unknown model 'van_b99'")) << out;
  EXPECT_EQ(run("forward --model van_b0 --set depth=3 --input " + in + " --output " + out_file, &out), 2);
  EXPECT_TRUE(contains(out, "unknown argument 'depth'")) << out;
  EXPECT_EQ(run("forward --model van_b0 --dtype float16 --input " + in + " --output " + out_file, &out), 2);
  EXPECT_EQ(run("--threads 0 list", &out), 2);

  // Failures: exit 1, naming the file.
  const std::string trunc = (dir / "trunc.pth").string();
  const std::string good = attnzoo::read_file_bytes((F / "van_reduced_64.checkpoint.pth").string());
  attnzoo::write_file_atomic(trunc, good.substr(0, good.size() / 2));
  EXPECT_EQ(run("forward --model van_b0 --weights " + trunc + " --input " + in + " --output " + out_file, &out), 1);
  EXPECT_TRUE(contains(out, trunc)) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  // A checkpoint of another configuration: lists missing/unexpected/mis-shaped keys.
  EXPECT_EQ(run("forward --model van_b0 --weights " + (F / "van_reduced_64.checkpoint.pth").string() + " --input " +
                    in + " --output " + out_file,
                &out),
            1);
  EXPECT_TRUE(contains(out, "mis-shaped key(s): patch_embed1.proj.weight: checkpoint [8, 3, 7, 7] vs model [32, 3, 7, 7]"))
      << out;
  EXPECT_TRUE(contains(out, "missing key(s)")) << out;

  const std::string junk = (dir / "junk.safetensors").string();
  attnzoo::write_file_atomic(junk, std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":3}", 15));
  EXPECT_EQ(run("forward --model van_b0 --input " + junk + " --output " + out_file, &out), 1);
  EXPECT_TRUE(contains(out, junk)) << out;

  // Wrong input shape for the model: a clear message, no crash.
  EXPECT_EQ(run("forward --model van_b0 --input " + (F / "lka_dim32.io.safetensors").string() + " --output " + out_file,
                &out),
            1);
  EXPECT_TRUE(contains(out, "expected input [B, 3, H, W]")) << out;
}

}  // namespace

namespace {

// Every model fixture's release-style .checkpoint.pth reproduces the official logits through
// `attnzoo forward` (family from the folder, else the official class name).
TEST(Cli, ForwardReproducesEveryReleaseCheckpoint) {
  auto dir = test::temp_dir("cli_forward_all");
  int checked = 0;
  for (const auto& fam : fs::directory_iterator(test::fixtures_dir())) {
    if (!fam.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(fam.path())) {
      if (f.path().extension() != ".pth") continue;
      const std::string name = f.path().stem().stem().string();  // x.checkpoint.pth -> x
      if (!fs::exists(fam.path() / (name + ".json"))) continue;   // the unpickler's own test files
      const auto spec = test::read_json(fam.path() / (name + ".json"));
      const std::string family = test::model_family_for(fam.path().filename().string(), spec);
      const std::string cfg = (dir / (name + ".json")).string();
      attnzoo::write_file_atomic(cfg, spec["config"].dump());
      const std::string out_file = (dir / (name + ".out.safetensors")).string();
      std::string out;
      ASSERT_EQ(run("forward --model " + family + " --config " + cfg + " --weights " + f.path().string() + " --input " +
                        (fam.path() / (name + ".io.safetensors")).string() + " --output " + out_file + " --dtype float64",
                    &out),
                0)
          << name << ": " << out;
      auto got = checkpoint::read_safetensors(out_file).tensors;
      auto want = checkpoint::read_safetensors((fam.path() / (name + ".io.safetensors")).string()).tensors;
      EXPECT_LT(test::max_abs_diff(got["logits"], want["logits"]), 1e-8) << name;
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
