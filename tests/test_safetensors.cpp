// safetensors: round trips of every dtype, metadata, and headers that lie.
#include "test_util.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/safetensors.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

using namespace attnzoo;
using checkpoint::TensorDict;

namespace {

std::string header_file(const std::string& json, const std::string& data) {
  std::string out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + json + data;
}

std::string error_of(const std::string& bytes) {
  try {
    checkpoint::parse_safetensors(bytes, "bad.safetensors");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  TensorDict d;
  d.insert("f64", torch::randn({2, 3}, torch::kDouble));
  d.insert("f32", torch::randn({4}, torch::kFloat));
  d.insert("f16", torch::randn({3, 1}).to(torch::kHalf));
  d.insert("bf16", torch::randn({5}).to(torch::kBFloat16));
  d.insert("i64", torch::tensor({int64_t{-1}, int64_t{2}, int64_t{1} << 40}, torch::kLong));
  d.insert("i32", torch::tensor({-7, 8}, torch::kInt));
  d.insert("i16", torch::tensor({-3}, torch::kShort));
  d.insert("i8", torch::tensor({-128, 127}, torch::kChar));
  d.insert("u8", torch::tensor({0, 255}, torch::kByte));
  d.insert("bool", torch::tensor({true, false, true}));
  d.insert("scalar", torch::tensor(3.5, torch::kDouble));
  d.insert("empty", torch::empty({0, 4}));
  d.insert("strided", torch::arange(12, torch::kFloat).view({3, 4}).t());  // non-contiguous input
  auto dir = test::temp_dir("st_roundtrip");
  const std::string f = (dir / "all.safetensors").string();
  checkpoint::write_safetensors(f, d, {{"format", "pt"}, {"note", "ünïcode"}});
  EXPECT_TRUE(checkpoint::looks_like_safetensors(f));
  auto back = checkpoint::read_safetensors(f);
  EXPECT_EQ(back.metadata.at("format"), "pt");
  EXPECT_EQ(back.metadata.at("note"), "ünïcode");
  ASSERT_EQ(back.tensors.size(), d.size());
  for (const auto& item : d) {
    const at::Tensor* t = back.tensors.find(item.key());
    ASSERT_NE(t, nullptr) << item.key();
    EXPECT_EQ(t->scalar_type(), item.value().scalar_type()) << item.key();
    EXPECT_TRUE(t->equal(item.value())) << item.key();
  }
  // Data section is 8-byte aligned (header padded), as the reference implementation does.
  const std::string bytes = attnzoo::read_file_bytes(f);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, ReadsTheFixtureFiles) {
  auto f = checkpoint::read_safetensors((test::fixtures_dir() / "van" / "lka_dim32.io.safetensors").string());
  ASSERT_NE(f.tensors.find("x"), nullptr);
  EXPECT_EQ(f.tensors["x"].sizes(), (std::vector<int64_t>{2, 32, 14, 14}));
  EXPECT_EQ(f.tensors["x"].scalar_type(), at::kDouble);
}

TEST(Safetensors, RejectsHeadersThatLie) {
  const std::string data(16, '\0');
  EXPECT_NE(error_of("abc").find("shorter than the 8-byte header"), std::string::npos);
  EXPECT_NE(error_of(header_file("{\"a\":", data)).find("header: malformed JSON"), std::string::npos);
  EXPECT_NE(error_of(header_file("[1]", data)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,64]}})", data)).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data))
                .find("shape x dtype needs 12 bytes"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 data))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}})", data)).find("X9"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)).find("shape"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data)).find("begin > end"),
            std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32"}})", data)).find("needs dtype, shape and data_offsets"),
            std::string::npos);
  // A header length larger than the file.
  std::string big = header_file("{}", "");
  big[0] = '\x7f';
  EXPECT_NE(error_of(big).find("exceeds the file size"), std::string::npos);
  // Errors name the file.
  EXPECT_NE(error_of("abc").find("bad.safetensors"), std::string::npos);
}

TEST(Safetensors, TruncatedAndBitFlippedFilesNeverCrash) {
  TensorDict d;
  d.insert("w", torch::randn({8, 8}));
  d.insert("b", torch::randn({8}, torch::kDouble));
  const std::string good = checkpoint::serialize_safetensors(d);
  int errors = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    if (!error_of(good.substr(0, n)).empty()) ++errors;
  }
  EXPECT_EQ(errors, static_cast<int>(good.size()));  // every truncation is detected
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string b = good;
    b[rng() % std::min<size_t>(b.size(), 200)] ^= static_cast<char>(1 << (rng() % 8));  // flips in the header
    error_of(b);
  }
}

TEST(Safetensors, MissingFileNamesThePath) {
  try {
    checkpoint::read_safetensors("/nonexistent/w.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/w.safetensors"), std::string::npos);
  }
}

}  // namespace

namespace {

using attnzoo::checkpoint::RunCheckpoint;

TEST(RunCheckpoint, SavesAndLoadsEveryPart) {
  const auto dir = attnzoo::test::temp_dir("run_ckpt");
  RunCheckpoint c;
  c.kind = attnzoo::checkpoint::kImageRun;
  c.meta = {{"epoch", 3}, {"classes", {"a", "b"}}};
  c.model.insert("w", torch::arange(6, torch::kFloat).reshape({2, 3}));
  c.ema.insert("w", torch::ones({2, 3}));
  c.optimizer.insert("state.0.exp_avg", torch::full({2, 3}, 0.5));
  c.rng = torch::arange(4, torch::kByte);
  const std::string path = (dir / "last.safetensors").string();
  c.save(path);
  const RunCheckpoint back = RunCheckpoint::load(path, attnzoo::checkpoint::kImageRun);
  EXPECT_EQ(back.meta, c.meta);
  EXPECT_TRUE(back.model["w"].equal(c.model["w"]));
  EXPECT_TRUE(back.ema["w"].equal(c.ema["w"]));
  EXPECT_TRUE(back.optimizer["state.0.exp_avg"].equal(c.optimizer["state.0.exp_avg"]));
  EXPECT_TRUE(back.rng.equal(c.rng));
  EXPECT_EQ(RunCheckpoint::peek(path, attnzoo::checkpoint::kImageRun), c.meta);
  // peek reads the header only; it sees what the full reader sees.
  EXPECT_EQ(attnzoo::checkpoint::read_safetensors_metadata(path), attnzoo::checkpoint::read_safetensors(path).metadata);
  // Another kind, or a plain weights file, is not this run's checkpoint.
  EXPECT_TRUE(RunCheckpoint::peek(path, attnzoo::checkpoint::kLraRun).is_null());
  try {
    RunCheckpoint::load(path, attnzoo::checkpoint::kLraRun);
    ADD_FAILURE() << "loaded an image-run checkpoint as an LRA one";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not an attnzoo training checkpoint of this kind (no 'attnzoo.lra' metadata)"), std::string::npos) << e.what();
  }
  const std::string plain = (dir / "plain.safetensors").string();
  attnzoo::checkpoint::write_safetensors(plain, c.model);
  EXPECT_TRUE(RunCheckpoint::peek(plain, attnzoo::checkpoint::kImageRun).is_null());
}

}  // namespace
