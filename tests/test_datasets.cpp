// Datasets, transforms, mixup/cutmix and the loader: real numbers on real and synthetic data.
#include "test_util.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/datasets/transforms.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;
using namespace attnzoo::datasets;

namespace {

bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Datasets, FashionMnistFromTheDebianPackage) {
  auto train = open_dataset("fashion-mnist", "train");
  auto test = open_dataset("", "test");
  EXPECT_EQ(train->size(), 60000u);
  EXPECT_EQ(test->size(), 10000u);
  EXPECT_EQ(train->classes().size(), 10u);
  EXPECT_EQ(train->classes()[9], "Ankle_boot");
  auto s = train->get(0);
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{28, 28, 1}));
  EXPECT_EQ(s.label, 9);  // the first training image of Fashion-MNIST is an ankle boot
  const auto labels = test->labels();
  for (int c = 0; c < 10; ++c) EXPECT_EQ(std::count(labels.begin(), labels.end(), c), 1000);  // balanced
}

TEST(Datasets, IdxGzipTruncationAndMagicErrors) {
  auto dir = test::write_tiny_idx(test::temp_dir("idx") / "d", 10, 4);
  auto ds = open_idx(dir.string(), "train");
  EXPECT_EQ(ds->size(), 10u);
  EXPECT_EQ(ds->get(3).label, 3 % 4);
  EXPECT_EQ(ds->classes().size(), 4u);
  // gzipped copies read the same.
  std::string out;
  ASSERT_EQ(test::run_command("cd " + dir.string() + " && gzip -k train-images-idx3-ubyte train-labels-idx1-ubyte && "
                              "mkdir -p ../gz && mv *.gz ../gz/",
                              &out),
            0)
      << out;
  auto gz = open_idx((dir.parent_path() / "gz").string(), "train");
  EXPECT_TRUE(gz->get(7).image.equal(ds->get(7).image));
  // Truncated images file.
  const std::string img = attnzoo::read_file_bytes((dir / "train-images-idx3-ubyte").string());
  attnzoo::write_file_atomic((dir / "train-images-idx3-ubyte").string(), img.substr(0, img.size() - 5));
  EXPECT_TRUE(contains(error_of([&] { open_idx(dir.string(), "train"); }), "truncated"));
  attnzoo::write_file_atomic((dir / "train-images-idx3-ubyte").string(), "garbage garbage garbage");
  EXPECT_TRUE(contains(error_of([&] { open_idx(dir.string(), "train"); }), "magic"));
  EXPECT_TRUE(contains(error_of([&] { open_idx("/nonexistent", "train"); }), "/nonexistent"));
}

TEST(Datasets, CifarBinaryIsPlanarRgb) {
  auto dir = test::temp_dir("cifar");
  auto record = [](uint8_t label, uint8_t r, uint8_t g, uint8_t b) {
    std::string s(1, static_cast<char>(label));
    s += std::string(1024, static_cast<char>(r)) + std::string(1024, static_cast<char>(g)) + std::string(1024, static_cast<char>(b));
    return s;
  };
  for (int i = 1; i <= 5; ++i)
    attnzoo::write_file_atomic((dir / ("data_batch_" + std::to_string(i) + ".bin")).string(),
                                  record(static_cast<uint8_t>(i), 10, 20, 30) + record(0, 1, 2, 3));
  attnzoo::write_file_atomic((dir / "test_batch.bin").string(), record(7, 200, 100, 50));
  auto train = open_dataset("cifar10:" + dir.string(), "train");
  EXPECT_EQ(train->size(), 10u);
  auto s = train->get(2);
  EXPECT_EQ(s.label, 2);
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{32, 32, 3}));
  EXPECT_EQ(s.image[5][6][0].item<int>(), 10);
  EXPECT_EQ(s.image[5][6][2].item<int>(), 30);
  attnzoo::write_file_atomic((dir / "test_batch.bin").string(), "short");
  EXPECT_TRUE(contains(error_of([&] { open_cifar(dir.string(), "test"); }), "multiple of the 3073-byte"));
}

TEST(Datasets, ImageFolderRoundTripAndBadInput) {
  auto tmp = test::temp_dir("folder");
  auto idx = open_idx(test::write_tiny_idx(tmp / "idx", 12, 4).string(), "train");
  export_image_folder(*idx, (tmp / "png").string(), "train");
  auto folder = open_image_folder((tmp / "png").string(), "train");
  ASSERT_EQ(folder->size(), 12u);
  EXPECT_EQ(folder->classes(), idx->classes());
  // PNG is lossless: the same pixels come back (folder order: natural sort of file names).
  for (size_t i = 0; i < folder->size(); ++i) {
    auto s = folder->get(i);
    EXPECT_EQ(s.image.size(2), 1);
    bool found = false;
    for (size_t j = 0; j < idx->size() && !found; ++j) found = idx->get(j).image.equal(s.image) && idx->get(j).label == s.label;
    EXPECT_TRUE(found) << i;
  }
  EXPECT_TRUE(contains(error_of([&] { open_image_folder((tmp / "png").string(), "val"); }), "split folder 'val' is missing"));
  fs::create_directories(tmp / "png" / "train" / "empty_class");
  EXPECT_TRUE(contains(error_of([&] { open_image_folder((tmp / "png").string(), "train"); }), "holds no images"));
  fs::remove(tmp / "png" / "train" / "empty_class");
  attnzoo::write_file_atomic((tmp / "png" / "train" / "0" / "notes.txt").string(), "x");
  EXPECT_TRUE(contains(error_of([&] { open_image_folder((tmp / "png").string(), "train"); }), "unknown image extension"));
  fs::remove(tmp / "png" / "train" / "0" / "notes.txt");
  // A corrupt image names its path when decoded; the loader can skip and count it.
  const auto bad = tmp / "png" / "train" / "1" / "zz_corrupt.PNG";
  attnzoo::write_file_atomic(bad.string(), "\x89PNG not really");
  auto with_bad = open_image_folder((tmp / "png").string(), "train");
  std::string msg;
  for (size_t i = 0; i < with_bad->size(); ++i) {
    auto e = error_of([&] { with_bad->get(i); });
    if (!e.empty()) msg = e;
  }
  EXPECT_TRUE(contains(msg, "zz_corrupt.PNG")) << msg;
  TransformOptions to;
  to.img_size = 16;
  to.in_chans = 1;
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.drop_last = false;
  lo.shuffle = false;
  Loader strict(with_bad, Transform(to, false), lo);
  strict.start_epoch(0);
  EXPECT_TRUE(contains(error_of([&] { while (strict.next()) {} }), "zz_corrupt.PNG"));
  lo.skip_bad_images = true;
  Loader lenient(with_bad, Transform(to, false), lo);
  lenient.start_epoch(0);
  int64_t n = 0;
  while (auto b = lenient.next()) n += b->images.size(0);
  EXPECT_EQ(n, 12);
  EXPECT_EQ(lenient.skipped(), 1);
}

TEST(Transforms, EvalIsResizeCenterCropNormalize) {
  TransformOptions o;
  o.img_size = 4;
  o.crop_pct = 0.5;  // resize 8x8 -> 8 (no-op), center crop 4
  o.in_chans = 1;
  o.mean = {0.5, 0.5, 0.5};
  o.std = {0.25, 0.25, 0.25};
  auto img = torch::arange(64, torch::kByte).view({8, 8, 1});
  Rng rng(0);
  auto y = Transform(o, false)(img, rng);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 4, 4}));
  auto want = (img.narrow(0, 2, 4).narrow(1, 2, 4).permute({2, 0, 1}).to(torch::kFloat) / 255.0 - 0.5) / 0.25;
  EXPECT_LT(test::max_abs_diff(y, want), 1e-6);
  // Gray replicated to RGB for 3-channel models.
  o.in_chans = 3;
  EXPECT_EQ(Transform(o, false)(img, rng).size(0), 3);
}

TEST(Transforms, TrainIsDeterministicUnderASeedAndInRange) {
  TransformOptions o;
  o.img_size = 24;
  o.auto_augment = "rand-m9-mstd0.5-inc1";
  o.reprob = 0.5;
  o.mean = {0, 0, 0};
  o.std = {1, 1, 1};
  Transform t(o, true);
  auto img = torch::randint(0, 256, {40, 30, 3}, torch::kByte);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng a(seed), b(seed);
    auto ya = t(img, a), yb = t(img, b);
    EXPECT_TRUE(ya.equal(yb));
    EXPECT_EQ(ya.sizes(), (std::vector<int64_t>{3, 24, 24}));
  }
  // Without erasing, pixel values stay in [0, 1] with mean 0 / std 1.
  o.reprob = 0;
  Transform t2(o, true);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng r(seed);
    auto y = t2(img, r);
    EXPECT_GE(y.min().item<float>(), 0.f);
    EXPECT_LE(y.max().item<float>(), 1.f);
  }
  EXPECT_THROW(Transform([] { TransformOptions x; x.auto_augment = "auto-v0"; return x; }(), true), std::invalid_argument);
  EXPECT_THROW(Transform([] { TransformOptions x; x.auto_augment = "rand-q3"; return x; }(), true), std::invalid_argument);
}

TEST(Transforms, RandAugmentOpsKeepShapeAndChangePixels) {
  auto img = torch::randint(0, 256, {20, 20, 3}, torch::kByte);
  int changed = 0;
  for (uint64_t s = 0; s < 30; ++s) {
    auto x = img.clone();
    Rng rng(s);
    rand_augment(x, 2, 9, 0.5, true, 1.0, rng);
    EXPECT_EQ(x.sizes(), img.sizes());
    if (!x.equal(img)) ++changed;
  }
  EXPECT_GE(changed, 25);
}

TEST(Mixup, TargetsAreConvexCombinationsOfSmoothedLabels) {
  auto labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  auto s = smooth_one_hot(labels, 4, 0.1);
  EXPECT_NEAR(s[0][0].item<float>(), 0.925f, 1e-6);
  EXPECT_NEAR(s[0][1].item<float>(), 0.025f, 1e-6);
  MixupOptions o;
  o.num_classes = 4;
  o.label_smoothing = 0.1;
  o.mixup_alpha = 0.8;
  auto x = torch::rand({4, 1, 8, 8});
  const auto x0 = x.clone();
  Rng rng(3);
  auto t = mixup_batch(x, labels, o, rng);
  EXPECT_LT(test::max_abs_diff(t.sum(1), torch::ones({4})), 1e-6);
  // x = lam * x + (1 - lam) * flip(x); recover lam from the targets and check the images.
  const double lam = (t[0][0].item<double>() - 0.025) / 0.9;
  EXPECT_LT(test::max_abs_diff(x, x0 * lam + x0.flip({0}) * (1 - lam)), 1e-5);
  // CutMix: pixels come from either the image or its partner, and lam = kept area fraction.
  o.mixup_alpha = 0;
  o.cutmix_alpha = 1.0;
  auto xc = x0.clone();
  Rng rng2(5);
  auto tc = mixup_batch(xc, labels, o, rng2);
  const double lam_c = (tc[0][0].item<double>() - 0.025) / 0.9;
  const double kept = xc.eq(x0).to(torch::kDouble)[0].mean().item<double>();
  EXPECT_NEAR(kept, lam_c, 1e-6);  // targets are float32
  // No mixing: plain smoothed targets, images untouched.
  MixupOptions off;
  off.num_classes = 4;
  auto xo = x0.clone();
  EXPECT_TRUE(mixup_batch(xo, labels, off, rng).equal(s));
  EXPECT_TRUE(xo.equal(x0));
}

TEST(Loader, DeterministicForAnyWorkerCountAndResumable) {
  auto ds = open_idx(test::write_tiny_idx(test::temp_dir("loader") / "d", 50, 4).string(), "train");
  TransformOptions to;
  to.img_size = 16;
  to.in_chans = 1;
  to.random_resized_crop = true;
  to.scale = {0.5, 1.0};
  LoaderOptions lo;
  lo.batch_size = 8;
  lo.seed = 11;
  auto collect = [&](int workers, int64_t epoch, int64_t from) {
    auto o = lo;
    o.workers = workers;
    Loader l(ds, Transform(to, true), o);
    l.start_epoch(epoch, from);
    std::vector<at::Tensor> out;
    while (auto b = l.next()) out.push_back(b->images);
    return out;
  };
  auto one = collect(1, 2, 0), three = collect(3, 2, 0), tail = collect(2, 2, 4);
  ASSERT_EQ(one.size(), 6u);  // 50 // 8 with drop_last
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(one[i].equal(three[i])) << i;
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_TRUE(tail[0].equal(one[4]));
  EXPECT_FALSE(collect(1, 3, 0)[0].equal(one[0]));  // another epoch, another order
  // Sharding: ranks see disjoint halves covering everything (without drop_last).
  LoaderOptions so = lo;
  so.drop_last = false;
  so.world_size = 2;
  std::set<int64_t> seen;
  for (int r = 0; r < 2; ++r) {
    so.rank = r;
    for (auto i : epoch_indices(50, 0, so)) seen.insert(i);
    EXPECT_EQ(epoch_indices(50, 0, so).size(), 25u);
  }
  EXPECT_EQ(seen.size(), 50u);
  LoaderOptions big = lo;
  big.batch_size = 64;
  EXPECT_THROW(Loader(ds, Transform(to, true), big), std::invalid_argument);
}

}  // namespace
