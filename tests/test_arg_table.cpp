// The argument tables (visit_args) are each family's single source of constructor arguments: they
// parse JSON, give the defaults, and write Options back. These tests pin the contract.
#include <attnzoo/core/arg_table.h>
#include <attnzoo/models/agent.h>
#include <attnzoo/models/agent_cswin.h>
#include <attnzoo/models/biformer.h>
#include <attnzoo/models/biformer_stl.h>
#include <attnzoo/models/convit.h>
#include <attnzoo/models/davit.h>
#include <attnzoo/models/litv2.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/models/nat.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/van.h>
#include <attnzoo/modules/byobnet.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/module_registry.h>

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace attnzoo;
using nlohmann::json;

template <class Options>
void expect_round_trip(const Options& defaults, const std::string& owner) {
  const json args = args_of(defaults);
  EXPECT_EQ(args_of(options_from_args(args, owner, defaults)), args) << owner;
  EXPECT_EQ(args_of(options_from_args(json::object(), owner, defaults)), args) << owner;
}

TEST(ArgTable, ModelOptionsRoundTripThroughTheirArguments) {
  expect_round_trip(models::VANOptions(), "van");
  expect_round_trip(models::ConViTOptions(), "convit");
  expect_round_trip(models::BiFormerOptions(), "biformer");
  expect_round_trip(models::BiFormerSTLOptions(), "biformer_stl");
  expect_round_trip(models::DaViTOptions(), "davit");
  expect_round_trip(models::LITv2Options(), "litv2");
  expect_round_trip(models::NATOptions(), "nat");
  expect_round_trip(models::AgentDeiTOptions(), "agent_deit");
  expect_round_trip(models::AgentPVTOptions(), "agent_pvt");
  expect_round_trip(models::AgentSwinOptions(), "agent_swin");
  expect_round_trip(models::AgentCSWinOptions(), "agent_cswin");
  expect_round_trip(models::DiNATsOptions(), "dinat_s");
  expect_round_trip(models::NATIsotropicOptions(), "nat_isotropic");
  expect_round_trip(models::NATIsotropicOptions().layer(models::IsotropicLayer::kGlobal), "nat_isotropic");
}

TEST(ArgTable, ParsedArgumentsAcceptTheOfficialSpellings) {
  // agent_*.py configs pass "9-16-49-49".split('-'): strings.
  const auto o = options_from_args<models::AgentPVTOptions>({{"agent_num", {"4", "9", 16, "49"}}, {"agent_sr_ratios", 2111}},
                                                            "agent_pvt");
  EXPECT_EQ(o.agent_num(), (std::vector<int64_t>{4, 9, 16, 49}));
  EXPECT_EQ(o.agent_sr_ratios(), "2111");
  EXPECT_THROW(options_from_args<models::AgentPVTOptions>({{"agent_num", {"x"}}}, "agent_pvt"), std::invalid_argument);
  const auto c = options_from_args<models::AgentCSWinOptions>({{"la_split_size", "56-28-14-7"}, {"agent_num", 49}}, "agent_cswin");
  EXPECT_EQ(c.la_split_size(), (std::vector<int64_t>{56, 28, 14, 7}));
  EXPECT_EQ(c.agent_num(), (std::vector<int64_t>{49, 49, 49, 49}));
  EXPECT_THROW(options_from_args<models::AgentCSWinOptions>({{"la_split_size", "56-x"}}, "agent_cswin"), std::invalid_argument);
}

TEST(ArgTable, ClosedSetsOfNamesAreEnums) {
  const auto o = options_from_args<models::NATIsotropicOptions>({{"layer", "VisionTransformerLayer"}}, "nat_isotropic");
  EXPECT_EQ(o.layer(), models::IsotropicLayer::kGlobal);
  EXPECT_EQ(args_of(o).at("layer"), "VisionTransformerLayer");
  try {
    options_from_args<models::NATIsotropicOptions>({{"layer", "Nope"}}, "nat_isotropic");
    ADD_FAILURE() << "accepted an unknown layer";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "nat_isotropic: argument 'layer' must be one of NATransformerLayer, VisionTransformerLayer, got 'Nope'");
  }
}

TEST(ArgTable, ModesAreEnumsSpelledTheOfficialWay) {
  // BiFormer's kv_downsample_mode / param_attention, the LRA encoder's pool / pos: JSON keeps the official
  // strings, the Options hold enums, and a misspelling names the allowed values.
  const auto b = options_from_args<models::BiFormerOptions>({{"kv_downsample_mode", "ada_maxpool"}, {"param_attention", "qkv"}},
                                                            "biformer");
  EXPECT_EQ(b.kv_downsample_mode(), modules::KvDownsampleMode::AdaMaxPool);
  EXPECT_EQ(b.param_attention(), modules::ParamAttention::QKV);
  EXPECT_EQ(args_of(b).at("kv_downsample_mode"), "ada_maxpool");
  try {
    options_from_args<models::BiFormerOptions>({{"kv_downsample_mode", "fracpool"}}, "biformer");
    ADD_FAILURE() << "accepted an unknown kv_downsample_mode";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "biformer: argument 'kv_downsample_mode' must be one of identity, ada_avgpool, ada_maxpool, avgpool, maxpool, "
              "got 'fracpool'");
  }
  const auto l = options_from_args<models::LRAEncoderOptions>({{"pool", "cls"}, {"pos", "sinusoidal"}}, "lra_encoder");
  EXPECT_EQ(l.pool(), models::LRAPool::Cls);
  EXPECT_EQ(l.pos(), models::LRAPos::Sinusoidal);
  EXPECT_EQ(args_of(l).at("pool"), "cls");
  EXPECT_THROW(options_from_args<models::LRAEncoderOptions>({{"pool", "max"}}, "lra_encoder"), std::invalid_argument);
  EXPECT_EQ(modules::byob_downsample_from_name("", "cfg"), modules::ByobDownsample::None);
  EXPECT_EQ(modules::byob_downsample_from_name("conv1x1", "cfg"), modules::ByobDownsample::Conv1x1);
  try {
    modules::byob_downsample_from_name("pool", "halonet26t");
    ADD_FAILURE() << "accepted an unknown downsample";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "halonet26t: downsample must be 'avg', 'conv1x1' or '', got 'pool'");
  }
}

TEST(ArgTable, OneArgumentTablePerOfficialAgentAttention) {
  // agent_deit / agent_pvt / agent_swin each define their own AgentAttention: each has its own table.
  auto args = [](const char* family, const char* official) {
    return modules::find_module(family, official).default_args;
  };
  EXPECT_TRUE(args("agent_deit", "AgentAttention").contains("window"));
  EXPECT_FALSE(args("agent_deit", "AgentAttention").contains("sr_ratio"));
  EXPECT_TRUE(args("agent_pvt", "AgentAttention").contains("num_patches"));
  EXPECT_TRUE(args("agent_pvt", "AgentAttention").contains("sr_ratio"));
  EXPECT_TRUE(args("agent_swin", "AgentAttention").contains("window_size"));
  EXPECT_TRUE(args("agent_swin", "AgentAttention").contains("shift_size"));
  EXPECT_TRUE(args("agent_cswin", "AgentAttention").contains("agent_num"));
  EXPECT_FALSE(args("agent_cswin", "LePEAttention").contains("agent_num"));
  try {
    modules::find_module("agent_cswin", "LePEAttention").build({{"dim", 16}, {"resolution", 8}, {"idx", 0}, {"dim_out", 8}});
    ADD_FAILURE() << "accepted dim_out != dim";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dim_out must equal dim"), std::string::npos) << e.what();
  }
}

TEST(ArgTable, ModulesPrintTheirArguments) {
  // pretty_print comes from the argument table: what a module prints is what builds it again.
  auto printed = [](const auto& holder) {
    std::ostringstream os;
    holder->pretty_print(os);  // the module itself, without its children
    return os.str();
  };
  EXPECT_EQ(printed(modules::LKA1D(16)), "attnzoo::LKA1D(dim=16)");
  const std::string hilo = printed(modules::HiLo(modules::HiLoOptions(64).num_heads(4).alpha(0.25)));
  EXPECT_EQ(hilo.rfind("attnzoo::HiLo(", 0), 0u) << hilo;
  EXPECT_NE(hilo.find("alpha=0.25"), std::string::npos) << hilo;
  EXPECT_NE(hilo.find("num_heads=4"), std::string::npos) << hilo;
  EXPECT_NE(hilo.find("qk_scale=null"), std::string::npos) << hilo;  // Python None
  // Positional convenience constructors delegate to the Options, as LibTorch's LinearImpl(in, out).
  EXPECT_EQ(modules::HiLo(64)->options.num_heads(), modules::HiLoOptions(64).num_heads());
}

TEST(ArgTable, FamilyDefaultsAreTheOptionsDefaults) {
  const auto& reg = models::registry();
  EXPECT_EQ(reg.find_family("van")->default_args, args_of(models::VANOptions()));
  EXPECT_EQ(reg.find_family("davit")->default_args.at("qkv_bias"), true);
  // Python None where the Options hold their "unset" value; LayerNorm written as Python spells it.
  EXPECT_TRUE(reg.find_family("convit")->default_args.at("qk_scale").is_null());
  EXPECT_EQ(reg.find_family("van")->default_args.at("norm_layer"), "nn.LayerNorm");
}

TEST(ArgTable, ReadsOfficialSpellings) {
  const auto o = options_from_args<models::VANOptions>(
      {{"norm_layer", "functools.partial(torch.nn.LayerNorm, eps=1e-06)"}, {"depths", {1, 1, 1, 1}}, {"flag", true}}, "van");
  EXPECT_EQ(o.norm_eps(), 1e-6);
  EXPECT_EQ(o.depths(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(args_of(o).at("norm_layer"), "functools.partial(torch.nn.LayerNorm, eps=1e-06)");
  const auto c = options_from_args<models::ConViTOptions>({{"qk_scale", nullptr}}, "convit");
  EXPECT_EQ(c.qk_scale(), 0.0);
  EXPECT_EQ(options_from_args<models::ConViTOptions>({{"qk_scale", 0.25}}, "convit").qk_scale(), 0.25);
}

TEST(ArgTable, ErrorsNameTheOwnerAndTheArgument) {
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([] { options_from_args<models::VANOptions>({{"depth", 3}}, "van"); }).rfind("van: unknown argument(s) depth", 0), 0u);
  EXPECT_NE(message([] { options_from_args<models::VANOptions>({{"depths", "x"}}, "van"); }).find("'depths' has the wrong type"),
            std::string::npos);
  EXPECT_NE(message([] { options_from_args<models::LITv2Options>({{"ape", true}}, "litv2"); }).find("'ape' supports only false"),
            std::string::npos);
  EXPECT_NE(message([] { options_from_args<models::DaViTOptions>({{"norm_layer", "partial(nn.LayerNorm, eps=1e-6)"}}, "davit"); })
                .find("supports only nn.LayerNorm"),
            std::string::npos);
  EXPECT_NE(message([] { modules::find_module("van", "LKA").build(json::object()); }).find("van.LKA: missing required argument 'dim'"),
            std::string::npos);
}

TEST(ArgTable, LayerNormSpecReadsBackExactly) {
  for (double eps : {1e-5, 1e-6, 1e-12, 2.5e-4, 0.1})
    EXPECT_EQ(layer_norm_eps(layer_norm_spec(eps), "t"), eps) << layer_norm_spec(eps);
  EXPECT_EQ(layer_norm_spec(1e-6), "functools.partial(torch.nn.LayerNorm, eps=1e-06)");
}

TEST(ArgTable, EveryModuleEntryListsItsArguments) {
  for (const auto& m : modules::module_entries()) {
    if (m.default_args.is_null()) continue;  // entries with a hand-written reader (halonet)
    EXPECT_TRUE(m.default_args.is_object()) << m.family << "." << m.official;
    // Unknown keys are rejected by every table-built entry, with the owner in the message.
    json bad = m.default_args;
    bad["no_such_argument"] = 1;
    try {
      m.build(bad);
      ADD_FAILURE() << m.family << "." << m.official << " accepted an unknown argument";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(m.family + "." + m.official), std::string::npos) << e.what();
    }
  }
}

}  // namespace
