// Long Range Arena data (ListOps TSV + generator, byte text, sequential pixels) and the lra_encoder.
#include "test_util.h"

#include <attnzoo/datasets/lra.h>
#include <attnzoo/models/lra_encoder.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

TEST(LRAData, ListOpsTokenisationFollowsLRA) {
  // `]` -> X, parentheses dropped, whitespace split; fixed vocabulary.
  const auto t = datasets::listops_tokenize("( ( [MAX 2 9 ] ) [SM 0 ] ) [MIN [MED 7");
  const std::vector<int32_t> want{13, 4, 11, 16, 15, 2, 16, 12, 14, 9};
  EXPECT_EQ(t, want);
  EXPECT_EQ(datasets::evaluate_listops("( [MAX 2 9 ] )"), 9);
  EXPECT_EQ(datasets::evaluate_listops("[MED 1 2 3 4 ]"), 2);  // int(np.median) of an even count: 2.5 -> 2
  EXPECT_EQ(datasets::evaluate_listops("[SM 9 9 5 ]"), 3);
  EXPECT_EQ(datasets::evaluate_listops("[MIN 4 ( [MAX 1 7 ] ) 5 ]"), 4);
}

TEST(LRAData, GeneratorIsSeededAndItsValuesAreRight) {
  datasets::ListOpsGeneratorOptions o;
  o.min_length = 20;
  o.max_length = 120;
  o.seed = 7;
  std::mt19937_64 a(o.seed), b(o.seed);
  for (int i = 0; i < 50; ++i) {
    const auto [s, v] = datasets::generate_listops_expression(a, o);
    EXPECT_EQ(s, datasets::generate_listops_expression(b, o).first);
    EXPECT_EQ(v, datasets::evaluate_listops(s)) << s;
    const auto len = static_cast<int64_t>(datasets::listops_tokenize(s).size());
    EXPECT_GT(len, o.min_length);
    EXPECT_LT(len, o.max_length);
  }
  const auto dir = test::temp_dir("listops_gen");
  datasets::write_listops_dataset(dir.string(), 30, 5, 5, o);
  const auto ds = datasets::open_listops((dir / "basic_train.tsv").string(), 2000);
  EXPECT_EQ(ds->size(), 30u);
  EXPECT_EQ(ds->vocab_size(), 17);
  EXPECT_EQ(ds->num_classes(), 10);
}

TEST(LRAData, MalformedFilesNameTheLine) {
  const auto dir = test::temp_dir("listops_bad");
  const auto path = (dir / "basic_train.tsv").string();
  {
    std::ofstream f(path);
    f << "Source\tTarget\n( [MAX 1 2 ] )\t2\n[MIN 1 ]\tseven\n";
  }
  try {
    datasets::open_listops(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("basic_train.tsv:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("seven"), std::string::npos) << e.what();
  }
  {
    std::ofstream f(path);
    f << "text\tlabel\n";
  }
  EXPECT_THROW(datasets::open_listops(path), std::runtime_error);
  const auto tpath = (dir / "train.tsv").string();
  {
    std::ofstream f(tpath);
    f << "1\tgood film\n0\tbad\n2\tthird class\n";
  }
  try {
    datasets::open_byte_text(tpath, 2);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("train.tsv:3"), std::string::npos) << e.what();
  }
}

TEST(LRAData, SequentialPixelsAreGrayTokens) {
  const auto dir = test::temp_dir("seq_image");
  auto images = datasets::open_dataset("mnist:" + test::write_tiny_idx(dir, 8, 4, 4, 16).string(), "train");
  auto seq = datasets::open_sequential_image(images);
  const auto e = seq->get(3);
  ASSERT_EQ(e.tokens.size(), 256u);
  const auto img = images->get(3).image.view({-1});
  for (int i = 0; i < 256; ++i) ASSERT_EQ(e.tokens[i], img[i].item<int>());
  EXPECT_EQ(e.label, images->get(3).label);
  EXPECT_FALSE(seq->pad_is_zero());
}

TEST(LRAEncoder, PaddingNeverChangesTheLogits) {
  for (const char* attn : {"softmax", "neighborhood", "block_local", "agent", "lka", "hilo", "gpsa", "davit", "bra"}) {
    torch::manual_seed(0);
    auto args = models::lra_variant_args("lra_tiny");
    args.update({{"attention", attn}, {"vocab_size", 17}, {"num_classes", 10}, {"max_len", 64}, {"dropout", 0.0},
                 {"kernel_size", 7}, {"block", 8}, {"halo", 4}, {"agent_num", 4}, {"window", 8}});
    models::LRAEncoder m(models::lra_encoder_options_from_args(args));
    m->eval();
    const at::Tensor tokens = torch::randint(2, 17, {1, 40}, torch::kLong);
    const at::Tensor padded = torch::cat({tokens, torch::zeros({1, 24}, torch::kLong)}, 1);
    const at::Tensor y1 = m(tokens, tokens.eq(0)), y2 = m(padded, padded.eq(0));
    EXPECT_LT((y1 - y2).abs().max().item<double>(), 1e-4) << attn;
  }
  EXPECT_THROW(models::lra_variant_args("lra_huge"), std::invalid_argument);
  auto bad = models::lra_variant_args("lra_tiny");
  bad["attention"] = "quantum";
  EXPECT_THROW(models::LRAEncoder(models::lra_encoder_options_from_args(bad)), std::invalid_argument);
}

TEST(LRAEncoder, CliTrainsListOps) {
  const auto dir = test::temp_dir("lra_cli");
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " data make-listops " + (dir / "lo").string() +
                                  " --sizes 64 16 16 --min-length 10 --max-length 60 --seed 3",
                              &out),
            0)
      << out;
  ASSERT_EQ(test::run_command(test::cli() + " train --task lra-listops --data " + (dir / "lo").string() +
                                  " --model lra_tiny --set attention=neighborhood kernel_size=7 --steps 6 --batch-size 8"
                                  " --eval-every 3 --warmup-steps 2 --output " + (dir / "run").string(),
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("val acc"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir / "run" / "result.json"));
  EXPECT_EQ(test::run_command(test::cli() + " train --task lra-pathfinder --steps 2", &out), 2) << out;
}

}  // namespace

namespace {

TEST(LRAData, RetrievalPairsAndTheirErrors) {
  const auto dir = test::temp_dir("retrieval");
  for (const char* split : {"train", "eval", "test"}) {
    std::ofstream f(dir / (std::string("new_aan_pairs.") + split + ".tsv"));
    for (int i = 0; i < 12; ++i)
      f << (i % 2 ? "1.0" : "0.0") << "\tid" << i << "\tjd" << i << "\t" << std::string(20 + i, i % 2 ? 'a' : 'b') << "\t"
        << std::string(30 - i, i % 2 ? 'a' : 'c') << "\n";
  }
  const auto ds = datasets::open_retrieval((dir / "new_aan_pairs.train.tsv").string(), 16);
  ASSERT_EQ(ds->size(), 12u);
  EXPECT_TRUE(ds->paired());
  const auto e = ds->get(1);
  EXPECT_EQ(e.label, 1);
  EXPECT_EQ(e.tokens.size(), 16u);  // truncated to max_length
  EXPECT_EQ(e.tokens[0], 'a' + 1);
  EXPECT_EQ(e.tokens2.size(), 16u);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " train --task lra-retrieval --data " + dir.string() +
                                  " --model lra_tiny --steps 4 --batch-size 4 --eval-every 2 --warmup-steps 2 --max-len 32"
                                  " --output " + (dir / "run").string(),
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("lra-retrieval val acc"), std::string::npos) << out;
  {
    std::ofstream f(dir / "bad.tsv");
    f << "1\tid\tjd\tonly four columns\n";
  }
  try {
    datasets::open_retrieval((dir / "bad.tsv").string());
    FAIL();
  } catch (const std::runtime_error& err) {
    EXPECT_NE(std::string(err.what()).find("bad.tsv:1"), std::string::npos) << err.what();
  }
}

TEST(LRAData, PathfinderReadsMetadataAndImages) {
  const auto dir = test::temp_dir("pathfinder");
  auto images = datasets::open_dataset("mnist:" + test::write_tiny_idx(dir / "idx", 10, 2, 2, 16).string(), "train");
  datasets::export_image_folder(*images, (dir / "root" / "imgs").string(), "0");
  fs::create_directories(dir / "root" / "metadata");
  std::ofstream meta(dir / "root" / "metadata" / "0.npy");  // text despite the extension, as released
  int n = 0;
  for (const auto& cls : fs::directory_iterator(dir / "root" / "imgs" / "0"))
    for (const auto& f : fs::directory_iterator(cls.path())) {
      meta << "imgs/0/" << cls.path().filename().string() << " " << f.path().filename().string() << " 0 "
           << (cls.path().filename().string() == "1" ? 1 : 0) << " 1 14 4 2 2 2 1\n";
      ++n;
    }
  meta.close();
  const auto ds = datasets::open_pathfinder((dir / "root").string());
  ASSERT_EQ(static_cast<int>(ds->size()), n);
  EXPECT_EQ(ds->max_length(), 256);
  EXPECT_EQ(ds->num_classes(), 2);
  EXPECT_EQ(ds->get(0).tokens.size(), 256u);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " train --task lra-pathfinder --data " + (dir / "root").string() +
                                  " --model lra_tiny --steps 3 --batch-size 4 --eval-every 3 --warmup-steps 1 --output " +
                                  (dir / "run").string(),
                              &out),
            0)
      << out;
  EXPECT_THROW(datasets::open_pathfinder((dir / "nowhere").string()), std::runtime_error);
}

}  // namespace

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(LRAData, PathfinderGeneratorWritesTheReleasedLayout) {
  const auto dir = test::temp_dir("pathfinder_gen");
  std::string out;
  const std::string gen = test::cli() + " data make-pathfinder ";
  ASSERT_EQ(test::run_command(gen + (dir / "a").string() + " --count 60 --per-folder 25 --contour-length 9 --seed 4", &out), 0) << out;
  ASSERT_EQ(test::run_command(gen + (dir / "b").string() + " --count 60 --per-folder 25 --contour-length 9 --seed 4", &out), 0) << out;
  ASSERT_EQ(test::run_command(gen + (dir / "c").string() + " --count 60 --per-folder 25 --contour-length 9 --seed 5", &out), 0) << out;
  // 60 images in folders of 25: imgs/{0,1,2}, metadata/{0,1,2}.npy; seeded.
  EXPECT_TRUE(fs::exists(dir / "a" / "imgs" / "2" / "sample_59.png"));
  EXPECT_TRUE(fs::exists(dir / "a" / "metadata" / "2.npy"));
  EXPECT_FALSE(fs::exists(dir / "a" / "metadata" / "3.npy"));
  EXPECT_EQ(file_bytes(dir / "a" / "imgs" / "1" / "sample_30.png"), file_bytes(dir / "b" / "imgs" / "1" / "sample_30.png"));
  EXPECT_EQ(file_bytes(dir / "a" / "metadata" / "1.npy"), file_bytes(dir / "b" / "metadata" / "1.npy"));
  EXPECT_NE(file_bytes(dir / "a" / "imgs" / "1" / "sample_30.png"), file_bytes(dir / "c" / "imgs" / "1" / "sample_30.png"));
  std::ifstream meta(dir / "a" / "metadata" / "0.npy");
  std::string first;
  std::getline(meta, first);
  EXPECT_EQ(first.rfind("imgs/0 sample_0.png 0 ", 0), 0u) << first;

  // The reader takes it as released: 32 x 32 gray pixels, both labels, markers bright, background black.
  const auto ds = datasets::open_pathfinder((dir / "a").string());
  ASSERT_EQ(ds->size(), 60u);
  EXPECT_EQ(ds->max_length(), 1024);
  int positives = 0, bright = 0;
  for (size_t i = 0; i < ds->size(); ++i) {
    const auto e = ds->get(i);
    positives += static_cast<int>(e.label);
    int on = 0, mx = 0;
    for (int32_t t : e.tokens) {
      on += t > 0;
      mx = std::max(mx, t);
    }
    bright += mx == 255;  // the marker discs are solid
    EXPECT_GT(on, 60) << "sample " << i;   // two paths of 9 paddles and two markers
    EXPECT_LT(on, 700) << "sample " << i;  // mostly background
  }
  EXPECT_GT(positives, 15);
  EXPECT_LT(positives, 45);
  EXPECT_EQ(bright, 60);

  // Paths that cannot fit are a clear error, not a hang.
  EXPECT_NE(test::run_command(gen + (dir / "d").string() + " --count 2 --size 16 --contour-length 60", &out), 0);
  EXPECT_NE(out.find("do not fit"), std::string::npos) << out;
}

}  // namespace

namespace {

TEST(LRAData, TextCsvWithAHeaderAndQuotes) {
  const auto dir = test::temp_dir("text_csv");
  {
    std::ofstream f(dir / "train.csv", std::ios::binary);
    // The common IMDb export: review first, sentiment words; quoted commas, "" escapes and a newline.
    f << "review,sentiment\r\n\"Great, truly \"\"great\"\" film\",positive\r\nmeh,negative\r\n\"two\nlines\",1\r\n";
  }
  const auto ds = datasets::open_byte_text((dir / "train.csv").string(), 2, 100);
  ASSERT_EQ(ds->size(), 3u);
  const std::string first = "Great, truly \"great\" film";
  const auto e0 = ds->get(0);
  ASSERT_EQ(e0.tokens.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(e0.tokens[i], static_cast<unsigned char>(first[i]) + 1);
  EXPECT_EQ(e0.label, 1);
  EXPECT_EQ(ds->get(1).label, 0);
  EXPECT_EQ(ds->get(2).tokens.size(), 9u);  // "two\nlines"
  // Errors name the file and the record's first line.
  {
    std::ofstream f(dir / "bad.csv");
    f << "text,label\n\"ok\",0\n\"multi\nline\",7\n";
  }
  try {
    datasets::open_byte_text((dir / "bad.csv").string(), 2, 100);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3: label 7 outside 0..1"), std::string::npos) << e.what();
  }
  {
    std::ofstream f(dir / "nohead.csv");
    f << "1,some text\n";
  }
  EXPECT_THROW(datasets::open_byte_text((dir / "nohead.csv").string(), 2, 100), std::runtime_error);
  {
    std::ofstream f(dir / "open.csv");
    f << "label,text\n0,\"never closed\n";
  }
  try {
    datasets::open_byte_text((dir / "open.csv").string(), 2, 100);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("open.csv:2: unterminated"), std::string::npos) << e.what();
  }
}

}  // namespace
