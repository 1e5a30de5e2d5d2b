// The generic parity harness: walks tests/fixtures/<family>/*.json (cases computed by the official
// PyTorch code in float64) and reproduces every output. Models are built through the registry from
// the case's exact constructor config, modules through the module factory. A new family only adds
// its fixtures and its registrations.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/modules/module_registry.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

struct Case {
  std::string family, name;
  fs::path json;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& fam : fs::directory_iterator(test::fixtures_dir())) {
    if (!fam.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(fam.path()))
      if (f.path().extension() == ".json" && fs::exists(fam.path() / (f.path().stem().string() + ".io.safetensors")))
        cases.push_back({fam.path().filename(), f.path().stem(), f.path()});
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.json < b.json; });
  return cases;
}

fs::path sibling(const Case& c, const std::string& suffix) { return c.json.parent_path() / (c.name + suffix); }

void expect_close(const at::Tensor& got, const at::Tensor& want, const nlohmann::json& tol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double atol = tol.value("atol", 1e-8), rtol = tol.value("rtol", 1e-7);
  const at::Tensor g = got.to(at::kDouble), w = want.to(at::kDouble);
  const double err = ((g - w).abs() - (w.abs() * rtol + atol)).max().item<double>();
  EXPECT_LE(err, 0.0) << what << ": max |diff| = " << test::max_abs_diff(g, w) << " exceeds atol " << atol
                      << " + rtol " << rtol << " * |ref|";
}

class Parity : public ::testing::TestWithParam<Case> {};

TEST_P(Parity, ReproducesOfficialOutputs) {
  const Case& c = GetParam();
  const auto spec = test::read_json(c.json);
  const auto io = checkpoint::read_safetensors(sibling(c, ".io.safetensors")).tensors;
  const auto weights = checkpoint::read_safetensors(sibling(c, ".weights.safetensors")).tensors;
  auto io_at = [&](const std::string& k) -> const at::Tensor& { return io[k]; };  // throws when absent
  const auto tol = spec.value("tolerance", nlohmann::json::object());
  const auto outputs = spec.at("output_names").get<std::vector<std::string>>();
  torch::NoGradGuard no_grad;

  const std::string family = test::model_family_for(c.family, spec);
  if (spec.at("kind") == "model") {
    auto model = models::create_model(family, spec.at("config"));
    model->to(at::kDouble);
    model->eval();
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    EXPECT_EQ(n, spec.at("num_params").get<int64_t>());
    models::load_weights(*model, weights, c.name);  // strict: every key, every shape
    const at::Tensor x = io_at(spec.at("input_names")[0].get<std::string>());
    auto feats = model->forward_intermediates(x);
    for (const auto& name : outputs) {
      if (name == "logits") {
        expect_close(model->forward(x), io_at(name), tol, c.name + " logits");
      } else if (name == "tokens_normed") {  // ViT-style forward_features: normed tokens [B, N(+1), C]
        expect_close(model->forward_features(x), io_at(name), tol, c.name + " " + name);
      } else if (name.rfind("features.", 0) == 0) {
        const size_t i = std::stoul(name.substr(9));
        ASSERT_LT(i, feats.size());
        expect_close(feats[i], io_at(name), tol, c.name + " " + name);
      } else {
        FAIL() << "unknown output " << name;
      }
    }
    // The release-style checkpoint (optimizer state, argparse.Namespace, envelope) gives the same logits.
    if (fs::exists(sibling(c, ".checkpoint.pth"))) {
      auto again = models::create_model(family, spec.at("config"));
      again->to(at::kDouble);
      again->eval();
      models::load_weights(*again, sibling(c, ".checkpoint.pth").string());
      expect_close(again->forward(x), io_at("logits"), tol, c.name + " logits via .checkpoint.pth");
    }
  } else {
    // Module family: the folder, or the official file when one folder holds several ("agent_swin.AgentAttention").
    const std::string cls = spec.at("official").at("class");
    std::string mod_family = c.family;
    for (const auto& m : modules::module_entries())
      if (m.family == test::official_file_stem(spec) && m.official == cls) mod_family = m.family;
    auto built = modules::find_module(mod_family, cls).build(spec.at("config"));
    built.module->to(at::kDouble);
    built.module->eval();
    int64_t n = 0;
    for (const auto& p : built.module->parameters()) n += p.numel();
    EXPECT_EQ(n, spec.at("num_params").get<int64_t>());
    checkpoint::load_state_dict(*built.module, weights, /*strict=*/true, c.name);
    std::vector<at::Tensor> inputs;
    for (const auto& name : spec.at("input_names")) inputs.push_back(io_at(name.get<std::string>()));
    auto ys = built.forward(inputs, spec.value("extra_forward_args", nlohmann::json::object()));
    ASSERT_EQ(ys.size(), outputs.size());
    for (size_t i = 0; i < ys.size(); ++i) expect_close(ys[i], io_at(outputs[i]), tol, c.name + " " + outputs[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n = info.param.family + "_" + info.param.name;
                           for (auto& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';  // "a0.9" -> "a0_9"
                           return n;
                         });

}  // namespace
