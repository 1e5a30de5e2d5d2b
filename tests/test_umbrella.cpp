// The umbrella header names every public header of every library (and compiles: this file includes it).
#include <attnzoo/attnzoo.h>

#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

TEST(Umbrella, IncludesEveryPublicHeader) {
  const fs::path root = attnzoo::test::fixtures_dir().parent_path().parent_path();
  std::ifstream in(root / "include/attnzoo/attnzoo.h");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string umbrella = ss.str();
  int checked = 0;
  for (const char* lib : {"core", "checkpoint", "modules", "models", "datasets", "eval", "train", "viz"}) {
    const fs::path inc = root / lib / "include";
    for (const auto& e : fs::recursive_directory_iterator(inc)) {
      if (e.path().extension() != ".h") continue;
      const std::string rel = fs::relative(e.path(), inc).generic_string();
      EXPECT_NE(umbrella.find("#include <" + rel + ">"), std::string::npos) << rel << " is missing from attnzoo.h";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

}  // namespace
