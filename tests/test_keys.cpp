// Every official variant: state_dict names, shapes, dtypes and parameter count equal the key lists
// dumped from the official code (tests/fixtures/<family>/keys/<variant>.json).
#include "test_util.h"

#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/registry.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

std::vector<fs::path> key_files() {
  std::vector<fs::path> out;
  for (const auto& fam : fs::directory_iterator(test::fixtures_dir()))
    if (fs::is_directory(fam.path() / "keys"))
      for (const auto& f : fs::directory_iterator(fam.path() / "keys"))
        if (f.path().extension() == ".json") out.push_back(f.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string dtype_name(at::ScalarType t) { return t == at::kLong ? "int64" : t == at::kFloat ? "float32" : "other"; }

class VariantKeys : public ::testing::TestWithParam<fs::path> {};

TEST_P(VariantKeys, MatchOfficialStateDict) {
  const auto spec = test::read_json(GetParam());
  const std::string variant = spec.at("variant");
  ASSERT_NE(models::registry().find_variant(variant), nullptr) << variant << " is not registered";
  auto model = models::create_model(variant);
  const auto sd = checkpoint::state_dict(*model);
  std::vector<std::tuple<std::string, std::vector<int64_t>, std::string>> want, got;
  for (const auto& e : spec.at("state_dict")) want.emplace_back(e[0], e[1].get<std::vector<int64_t>>(), e[2]);
  for (const auto& item : sd) got.emplace_back(item.key(), item.value().sizes().vec(), dtype_name(item.value().scalar_type()));
  EXPECT_EQ(got, want) << variant << ": state_dict differs from the official one (order included)";
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  EXPECT_EQ(n, spec.at("num_params").get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Official, VariantKeys, ::testing::ValuesIn(key_files()),
                         [](const ::testing::TestParamInfo<fs::path>& info) { return info.param.stem().string(); });

// Every registered variant has a key list (so no variant goes untested).
TEST(VariantKeys, EveryRegisteredVariantHasAKeyList) {
  std::set<std::string> listed;
  for (const auto& p : key_files()) listed.insert(p.stem());
  for (const auto& v : models::registry().variants()) EXPECT_TRUE(listed.count(v.name)) << v.name;
}

}  // namespace

namespace {

// export --layout: timm's names and back give the official names again (timm's own keys are checked against
// real timm in tests/interop); families without a timm layout refuse it by name.
TEST(WeightLayouts, TimmLayoutRoundTripsAndUnknownLayoutsAreRefused) {
  for (const char* name : {"davit_tiny", "convit_tiny", "halonet26t"}) {
    auto model = models::create_model(name);
    const auto official = checkpoint::state_dict(*model);
    const auto timm = model->to_layout(official, "timm");
    EXPECT_EQ(timm.size(), official.size()) << name;
    EXPECT_EQ(model->filter_checkpoint(timm).keys(), official.keys()) << name;
  }
  EXPECT_TRUE(models::create_model("davit_tiny")->to_layout(checkpoint::state_dict(*models::create_model("davit_tiny")), "timm")
                  .contains("stages.2.blocks.1.0.cpe1.proj.weight"));
  auto van = models::create_model("van_b0");
  EXPECT_THROW(van->to_layout(checkpoint::state_dict(*van), "timm"), std::invalid_argument);
  EXPECT_THROW(van->to_layout(checkpoint::state_dict(*van), "hf"), std::invalid_argument);
}

}  // namespace
