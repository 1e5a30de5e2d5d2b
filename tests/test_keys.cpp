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

// `attnzoo export --model V --seed S --to FILE`: read back (our safe .pth reader / safetensors), the file holds
// exactly the official key list of V and the tensors of V initialised under seed S, for one variant of every
// family, through both formats (the .pth one is what torch.load + load_state_dict(strict=True) take).
class ExportRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportRoundTrip, OfficialKeysAndEqualTensors) {
  const std::string variant = GetParam();
  fs::path key_file;
  for (const auto& p : key_files())
    if (p.stem() == variant) key_file = p;
  ASSERT_FALSE(key_file.empty()) << variant;
  const auto spec = test::read_json(key_file);  // kept alive: the loop below iterates inside it
  std::vector<std::string> official;
  for (const auto& e : spec.at("state_dict")) official.push_back(e[0]);
  torch::manual_seed(7);
  const auto expected = checkpoint::state_dict(*models::create_model(variant));
  const fs::path dir = test::temp_dir("export_" + variant);
  for (const char* ext : {".pth", ".safetensors"}) {
    const fs::path file = dir / (variant + ext);
    std::string out;
    ASSERT_EQ(test::run_command(test::cli() + " --threads 1 export --model " + variant + " --seed 7 --to " + file.string(), &out), 0)
        << out;
    const auto got = checkpoint::read_weights(file.string()).tensors;
    EXPECT_EQ(got.keys(), official) << variant << ext;
    for (const auto& item : expected)
      EXPECT_TRUE(got.contains(item.key()) && got[item.key()].equal(item.value())) << variant << ext << " " << item.key();
    fs::remove(file);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, ExportRoundTrip,
                         ::testing::Values("van_b0", "halonet26t", "biformer_tiny", "biformer_stl", "davit_tiny", "litv2_s",
                                           "convit_tiny", "agent_deit_tiny", "agent_pvt_tiny", "agent_swin_tiny",
                                           "agent_cswin_tiny", "nat_mini", "dinat_s_tiny", "nat_isotropic_small",
                                           "sigmoid_vit_tiny_patch16_224", "volo_d1_224", "unireplknet_a",
                                           "moh_transnext_small_75"));

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
  for (const char* name : {"davit_tiny", "convit_tiny", "halonet26t", "volo_d1_224"}) {
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
