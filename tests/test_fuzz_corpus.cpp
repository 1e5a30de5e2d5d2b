// Replays the fuzz corpora (tests/fuzz/corpus/<target>/) through the fuzz targets in the normal suite:
// every input ends in a result or one error line, and every regression-* input (issue #19's hostile
// files) is refused. In the sanitizer build the same test runs under ASan + UBSan.
#include "fuzz/fuzz_targets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace {

TEST(FuzzCorpus, EveryInputEndsInAResultOrOneErrorLine) {
  for (const auto& [name, target] : attnzoo::fuzz::targets()) {
    const fs::path dir = fs::path(ATTNZOO_FUZZ_CORPUS_DIR) / name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      const std::string error = attnzoo::fuzz::run_target(target, bytes);
      const std::string file = entry.path().filename().string();
      EXPECT_EQ(error.find('\n'), std::string::npos) << name << "/" << file << ": " << error;
      if (file.rfind("regression-", 0) == 0) EXPECT_FALSE(error.empty()) << name << "/" << file << " was accepted";
      ++files;
    }
    EXPECT_GE(files, 3) << dir;
  }
}

}  // namespace
