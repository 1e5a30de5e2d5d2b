// Config files (JSON/YAML) and --set overrides.
#include "test_util.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/core/config.h>

#include <gtest/gtest.h>

using namespace attnzoo;

namespace {

TEST(Config, YamlTypesAndNesting) {
  auto j = yaml_to_json("a: 1\nb: 2.5e-3\nc: [1, 2, 3]\nd: true\ne: null\nf: hello\ng: '12'\nh: {x: 1}\n", "t");
  EXPECT_EQ(j["a"], 1);
  EXPECT_DOUBLE_EQ(j["b"].get<double>(), 2.5e-3);
  EXPECT_EQ(j["c"], nlohmann::json({1, 2, 3}));
  EXPECT_EQ(j["d"], true);
  EXPECT_TRUE(j["e"].is_null());
  EXPECT_EQ(j["f"], "hello");
  EXPECT_EQ(j["g"], "12");  // quoted stays a string
  EXPECT_EQ(j["h"]["x"], 1);
}

TEST(Config, FilesAndErrorsNameTheFile) {
  auto dir = test::temp_dir("config");
  attnzoo::write_file_atomic((dir / "m.yaml").string(), "embed_dims: [8, 16]\nnum_classes: 10\n");
  attnzoo::write_file_atomic((dir / "m.json").string(), R"({"depths": [1, 2]})");
  attnzoo::write_file_atomic((dir / "bad.yaml").string(), "a: [1, 2\nb: 3\n");
  attnzoo::write_file_atomic((dir / "bad.json").string(), "{\"a\": }");
  attnzoo::write_file_atomic((dir / "list.yaml").string(), "- 1\n- 2\n");
  EXPECT_EQ(read_config_file((dir / "m.yaml").string())["num_classes"], 10);
  EXPECT_EQ(read_config_file((dir / "m.json").string())["depths"], nlohmann::json({1, 2}));
  for (const char* bad : {"bad.yaml", "bad.json", "list.yaml"}) {
    try {
      read_config_file((dir / bad).string());
      FAIL() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(Config, SetOverrides) {
  auto j = apply_overrides({{"a", 1}}, {"a=2", "b=[1,2]", "c=hello", "d.e=0.5", "f=\"7\""});
  EXPECT_EQ(j["a"], 2);
  EXPECT_EQ(j["b"], nlohmann::json({1, 2}));
  EXPECT_EQ(j["c"], "hello");
  EXPECT_DOUBLE_EQ(j["d"]["e"].get<double>(), 0.5);
  EXPECT_EQ(j["f"], "7");
  EXPECT_THROW(apply_overrides({}, {"novalue"}), std::invalid_argument);
  EXPECT_THROW(apply_overrides({}, {"=3"}), std::invalid_argument);
}

}  // namespace
