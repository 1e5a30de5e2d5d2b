// Hostile parsed data (issue #19): nesting, recursive and exponential aliases, cycles, zip bombs and
// out-of-range numbers end in one error naming the input, never a stack overflow or a huge allocation.
#include "test_util.h"

#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/core/input_limits.h>
#include <attnzoo/core/config.h>

#include <gtest/gtest.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;
using namespace std::string_literals;  // pickle programs hold NUL bytes

namespace {

using test::error_of;

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string u32le(uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }
std::string u16le(uint16_t v) { return std::string{char(v), char(v >> 8)}; }

// A stored (method 0) or deflate-declared (method 8) zip entry whose sizes we choose: enough for the
// central-directory checks, which look at the declared sizes before anything is inflated.
std::string zip_of(const std::vector<std::tuple<std::string, std::string, uint16_t, uint32_t>>& entries) {
  std::string body, central;
  for (const auto& [name, data, method, declared] : entries) {
    const uint32_t offset = static_cast<uint32_t>(body.size());
    const std::string common = u16le(20) + u16le(0) + u16le(method) + u16le(0) + u16le(0) + u32le(0) +
                               u32le(static_cast<uint32_t>(data.size())) + u32le(declared) +
                               u16le(static_cast<uint16_t>(name.size())) + u16le(0);
    body += u32le(0x04034b50) + common + name + data;
    central += u32le(0x02014b50) + u16le(20) + common + u16le(0) + u16le(0) + u16le(0) + u32le(0) + u32le(offset) + name;
  }
  const uint16_t n = static_cast<uint16_t>(entries.size());
  return body + central + u32le(0x06054b50) + u16le(0) + u16le(0) + u16le(n) + u16le(n) +
         u32le(static_cast<uint32_t>(central.size())) + u32le(static_cast<uint32_t>(body.size())) + u16le(0);
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const fs::path p = test::temp_dir("input_limits") / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

std::string unpickle_error(const std::string& program) {
  return error_of([&] { checkpoint::unpickle(program, nullptr, "x.pkl"); });
}

TEST(InputLimits, PickleNestingIsBoundedBottomUp) {
  // The files: 100,000 nested lists (EMPTY_LIST x N, APPEND x N-1) and 500,000 nested 1-tuples.
  const std::string lists = "\x80\x02" + repeat("]", 100000) + repeat("a", 99999) + ".";
  EXPECT_EQ(unpickle_error(lists), "x.pkl: cannot unpickle: values nested deeper than 1000 levels");
  const std::string tuples = "\x80\x02N" + repeat("\x85", 500000) + ".";
  EXPECT_EQ(unpickle_error(tuples), "x.pkl: cannot unpickle: values nested deeper than 1000 levels");
  const std::string dicts = "\x80\x02" + repeat("}", 5000) + repeat("Ns", 0) + ".";
  EXPECT_NE(unpickle_error(dicts).find("values on the stack"), std::string::npos);
}

TEST(InputLimits, PickleValuesChangedAfterNestingAreRefused) {
  // Lists memoized first and linked top-down (every APPEND sees an empty child, dodging the depth count),
  // and a list appended to itself: both change a value already placed inside another, which Python's
  // pickler never emits for torch.save data. Refused, so no value is ever cyclic or deeper than counted.
  const int n = 200000;
  std::string p = "\x80\x02";
  for (int i = 0; i < n; ++i) p += "]r" + u32le(static_cast<uint32_t>(i)) + "0";
  for (int i = 0; i + 1 < n; ++i) p += "j" + u32le(static_cast<uint32_t>(i)) + "j" + u32le(static_cast<uint32_t>(i + 1)) + "a0";
  p += "j" + u32le(0) + ".";
  EXPECT_EQ(unpickle_error(p), "x.pkl: cannot unpickle: a list is changed after being placed inside another value (a recursive structure?)");
  EXPECT_EQ(unpickle_error("\x80\x02]r\x00\x00\x00\x00j\x00\x00\x00\x00" "a."s),
            "x.pkl: cannot unpickle: a list is placed inside itself (a recursive structure?)");
  // Shared (DAG) values stay fine: [x, x] with x = [1].
  auto shared = checkpoint::unpickle("\x80\x02](K\x01" "e" "r\x00\x00\x00\x00" "0](j\x00\x00\x00\x00j\x00\x00\x00\x00" "e."s,
                                     nullptr, "dag.pkl");
  ASSERT_EQ(shared->items.size(), 2u);
  EXPECT_EQ(shared->items[0], shared->items[1]);
  EXPECT_EQ(shared->height, 2);
}

TEST(InputLimits, ZipEntriesThatInflateBeyondTheFileAreRefusedBeforeInflating) {
  const std::string bomb = write_temp(
      "bomb.pth", zip_of({{"archive/data.pkl", "\x80\x02}.", 0, 4},
                          {"archive/version", "3\n", 0, 2},
                          {"archive/data/0", std::string(64, '\0'), 8, 2147483648u}}));
  EXPECT_EQ(error_of([&] { checkpoint::load_pth(bomb); }),
            bomb + ": zip entry 'archive/data/0' inflates to 2147483648 bytes from a " +
                std::to_string(fs::file_size(bomb)) +
                "-byte file (torch.save never compresses; refusing a possible zip bomb)");
  const std::string no_version = write_temp("no_version.pth", zip_of({{"archive/data.pkl", "\x80\x02}.", 0, 4}}));
  const std::string e = error_of([&] { checkpoint::load_pth(no_version); });
  EXPECT_EQ(e.find("Could this error message be improved"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(InputLimits, UnknownClassesBesideTheWeightsLoadWithOneWarning) {
  const fs::path src = test::fixtures_dir() / "van" / "van_reduced_64.checkpoint.pth";
  std::vector<std::string> lines;
  auto previous = set_warning_sink([&](const std::string& l) { lines.push_back(l); });
  checkpoint::read_weights(src.string());
  set_warning_sink(previous);
  EXPECT_TRUE(lines.empty()) << "a release checkpoint (argparse.Namespace beside the weights) warns nothing";

  // {'extra': posix.system('ls') as pickled, 'model': {'w': 1}}: the call is recorded, never made.

  const std::string program = "\x80\x02}(X\x05\x00\x00\x00" "extra" "cposix\nsystem\nX\x02\x00\x00\x00" "ls" "\x85R"
                              "X\x05\x00\x00\x00" "model}X\x01\x00\x00\x00" "wK\x01su."s;
  auto root = checkpoint::unpickle(program, nullptr, "evil.pkl");
  EXPECT_EQ(checkpoint::object_classes(*root), std::vector<std::string>{"posix.system"});
}

TEST(InputLimits, JsonNestingIsBounded) {
  EXPECT_EQ(error_of([] { parse_json(repeat("{\"a\":", 100000) + "1" + repeat("}", 100000), "deep.json"); }),
            "deep.json: nested deeper than 1000 levels");
  EXPECT_EQ(error_of([] { parse_json(repeat("[", 1000000) + repeat("]", 1000000), "deep.json"); }),
            "deep.json: nested deeper than 1000 levels");
  EXPECT_EQ(parse_json(repeat("[", 1000) + repeat("]", 1000), "ok.json").dump().size(), 2000u);
  EXPECT_NE(error_of([] { parse_json("{\"lr\": 1e400}", "big.json"); }).find("big.json: malformed JSON"), std::string::npos);
  EXPECT_EQ(error_of([] { parse_json("{\"a\": \"\xff\"}", "bad.json"); }), "bad.json: line 1: not UTF-8 text (byte 7)");
}

TEST(InputLimits, YamlAliasesCannotRecurseOrExplode) {
  EXPECT_EQ(error_of([] { yaml_to_json("x: &a [*a]", "rec.yaml"); }),
            "rec.yaml: nested deeper than 1000 levels (a recursive YAML alias?)");
  std::string laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b', prev = 'a'; c <= 'i'; prev = c++) {
    laughs += std::string(1, c) + ": &" + c + " [";
    for (int k = 0; k < 9; ++k) laughs += std::string(k ? ", *" : "*") + prev;
    laughs += "]\n";
  }
  EXPECT_EQ(error_of([&] { yaml_to_json(laughs, "laughs.yaml"); }),
            "laughs.yaml: the document expands to more than 100000 values (nested YAML aliases?)");
  EXPECT_EQ(error_of([] { yaml_to_json("x: " + repeat("[", 100000), "deep.yaml"); }),
            "deep.yaml: nested deeper than the YAML parser allows");
  EXPECT_EQ(error_of([] { yaml_to_json("lr: 1e400\n", "r.yaml"); }),
            "r.yaml: line 1: 1e400 is beyond the range of a 64-bit float");
  EXPECT_EQ(error_of([] { yaml_to_json("a: 1\nmodel: \"\xc3\x28\"\n", "u.yaml"); }),
            "u.yaml: line 2: not UTF-8 text (byte 13)");
  // Shared (non-recursive) aliases stay fine.
  EXPECT_EQ(yaml_to_json("a: &x [1, 2]\nb: *x\n", "ok.yaml")["b"], nlohmann::json({1, 2}));
}

}  // namespace
