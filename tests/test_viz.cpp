// attnzoo viz: the effective receptive field with known answers (a k x k convolution's ERF is its footprint,
// two 3x3 give 5x5, a dilated one its dilated footprint), RepLKNet's area ratios, the heatmap figure; attention
// capture (off by default, rows that sum to one and equal a recomputation from q and k, each geometry's map), and
// `attnzoo viz erf` / `viz attention` end to end.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/eval/erf.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/attention_capture.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/viz/heatmap.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

namespace {

namespace fs = std::filesystem;
using namespace attnzoo;

int run(const std::string& args, std::string* out) { return test::run_command(test::cli() + " " + args, out); }

// A [size, size] mask of the offsets (dy, dx) around the centre (size / 2).
at::Tensor footprint(int64_t size, const std::vector<int64_t>& offsets) {
  at::Tensor m = torch::zeros({size, size}, torch::kBool);
  for (int64_t dy : offsets)
    for (int64_t dx : offsets) m[size / 2 + dy][size / 2 + dx] = true;
  return m;
}

at::Tensor ones_conv(const at::Tensor& x, int64_t k, int64_t dilation = 1, int64_t out = 4) {
  return torch::conv2d(x, torch::ones({out, x.size(1), k, k}, x.options()), {}, 1, dilation * (k / 2), dilation);
}

at::Tensor positive_images(int64_t n, int64_t c, int64_t size) {
  torch::manual_seed(0);
  return torch::rand({n, c, size, size}, torch::kFloat64) + 0.1;
}

TEST(Erf, OneConvolutionReachesExactlyItsFootprint) {
  const at::Tensor x = positive_images(2, 3, 21);
  const at::Tensor map = eval::erf_contribution([](const at::Tensor& t) { return ones_conv(t, 5); }, x);
  EXPECT_TRUE(torch::equal(map > 0, footprint(21, {-2, -1, 0, 1, 2})));
  // d/dx of the centre: 4 output channels x weight 1, for each of 3 input channels, summed over 2 images.
  EXPECT_DOUBLE_EQ(map[10][10].item<double>(), 2 * 3 * 4.0);
  EXPECT_DOUBLE_EQ(map.sum().item<double>(), 25 * 2 * 3 * 4.0);
}

TEST(Erf, TwoThreeByThreeConvolutionsReachFiveByFive) {
  const at::Tensor x = positive_images(1, 2, 17);
  const at::Tensor map = eval::erf_contribution([](const at::Tensor& t) { return ones_conv(ones_conv(t, 3), 3); }, x);
  EXPECT_TRUE(torch::equal(map > 0, footprint(17, {-2, -1, 0, 1, 2})));
  // The centre is reached by 9 paths, a corner by one: the ERF is peaked, as the papers show.
  EXPECT_DOUBLE_EQ(map[8][8].item<double>() / map[6][6].item<double>(), 9.0);
}

TEST(Erf, ADilatedConvolutionReachesItsDilatedFootprint) {
  const at::Tensor x = positive_images(1, 1, 15);
  const at::Tensor map = eval::erf_contribution([](const at::Tensor& t) { return ones_conv(t, 3, /*dilation=*/3); }, x);
  EXPECT_TRUE(torch::equal(map > 0, footprint(15, {-3, 0, 3})));
}

TEST(Erf, GradientModesAndTheReluOfTheCentralOutput) {
  // One output channel: +20 at the centre tap, -1 on the other 8; on an all-ones image the centre output is 12 > 0.
  at::Tensor w = -torch::ones({1, 1, 3, 3}, torch::kFloat64);
  w[0][0][1][1] = 20;
  const at::Tensor x = torch::ones({1, 1, 9, 9}, torch::kFloat64);
  auto conv = [&](const at::Tensor& t) { return torch::conv2d(t, w, {}, 1, 1); };
  const at::Tensor abs_map = eval::erf_contribution(conv, x, eval::ErfGrad::abs);
  const at::Tensor relu_map = eval::erf_contribution(conv, x, eval::ErfGrad::relu);
  EXPECT_DOUBLE_EQ(abs_map.sum().item<double>(), 20 + 8);
  EXPECT_DOUBLE_EQ(relu_map.sum().item<double>(), 20);
  // A centre output below zero passes no gradient (the ReLU of the official script).
  int64_t used = -1;
  const at::Tensor dead = eval::erf_contribution([&](const at::Tensor& t) { return -conv(t); }, x, eval::ErfGrad::abs, &used);
  EXPECT_EQ(used, 1);
  EXPECT_EQ(dead.abs().sum().item<double>(), 0.0);
}

TEST(Erf, AreaRatiosAreTheSmallestCentredSquaresAboveEachThreshold) {
  // The single 5x5 footprint: the 3x3 square holds 9/25 = 36 % of the scaled map, the 5x5 all of it.
  const at::Tensor x = positive_images(1, 1, 21);
  const at::Tensor scaled =
      eval::erf_display_scale(eval::erf_contribution([](const at::Tensor& t) { return ones_conv(t, 5); }, x));
  EXPECT_DOUBLE_EQ(scaled.max().item<double>(), 1.0);
  const auto r = eval::high_contribution_area_ratios(scaled);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].side, 3);  // t = 0.2
  EXPECT_EQ(r[1].side, 3);  // t = 0.3
  EXPECT_EQ(r[2].side, 5);  // t = 0.5
  EXPECT_EQ(r[3].side, 5);  // t = 0.99
  EXPECT_DOUBLE_EQ(r[3].ratio, 25.0 / (21 * 21));
  // Mass spread evenly over the whole map never reaches 99 % inside the largest square analyze_erf.py tries.
  const auto flat = eval::high_contribution_area_ratios(torch::ones({8, 8}, torch::kFloat64), {0.99});
  EXPECT_EQ(flat[0].side, 0);
  EXPECT_TRUE(eval::area_ratios_json(flat)["side"][0].is_null());
}


TEST(AttentionCapture, IsOffUnlessACaptureIsAlive) {
  EXPECT_EQ(modules::AttentionCapture::active(), nullptr);
  modules::MultiHeadSelfAttention attn(modules::MultiHeadSelfAttentionOptions(16, 2));
  const at::Tensor x = torch::randn({2, 10, 16});
  const at::Tensor plain = attn(x);
  EXPECT_EQ(modules::record_attention(attn.get(), "softmax", x), nullptr);
  modules::AttentionCapture capture;
  EXPECT_TRUE(attn(x).equal(plain));  // capturing does not change the output
  EXPECT_EQ(capture.records().size(), 1u);
}

TEST(AttentionCapture, SoftmaxRowsSumToOneAndEqualARecomputationFromQAndK) {
  torch::manual_seed(1);
  modules::MultiHeadSelfAttention attn(modules::MultiHeadSelfAttentionOptions(16, 2));
  const at::Tensor x = torch::randn({2, 10, 16}, torch::kFloat64);
  attn->to(torch::kFloat64);
  modules::AttentionCapture capture;
  attn(x);
  ASSERT_EQ(capture.records().size(), 1u);
  const at::Tensor w = capture.records()[0].weights;
  ASSERT_EQ(w.sizes(), at::IntArrayRef({2, 2, 10, 10}));
  EXPECT_LT(test::max_abs_diff(w.sum(-1), torch::ones({2, 2, 10}, torch::kFloat64)), 1e-12);
  const at::Tensor qkv = attn->qkv(x).reshape({2, 10, 3, 2, 8}).permute({2, 0, 3, 1, 4});
  const at::Tensor expected = torch::softmax(torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(8.0), -1);
  EXPECT_LT(test::max_abs_diff(w, expected), 1e-14);
}

TEST(AttentionCapture, WindowRowsLandInTheQuerysWindow) {
  // DaViT's spatial block on a 7x7 map with windows of 4 (padded to 8x8): the query (5, 6) lives in the
  // bottom-right window, whose rows 4..6 and columns 4..6 are on the map.
  torch::manual_seed(2);
  modules::DaViTSpatialBlock block(modules::DaViTBlockOptions(8, 2).window_size(4));
  block->eval();
  modules::AttentionCapture capture;
  block->forward(torch::randn({1, 49, 8}), modules::Size2{7, 7});
  ASSERT_EQ(capture.records().size(), 1u);
  const auto& r = capture.records()[0];
  ASSERT_TRUE(r.query_map);
  const at::Tensor map = r.query_map(0, 5, 6);
  ASSERT_EQ(map.sizes(), at::IntArrayRef({2, 7, 7}));
  at::Tensor inside = torch::zeros({7, 7}, torch::kBool);
  inside.slice(0, 4, 7).slice(1, 4, 7).fill_(true);
  EXPECT_TRUE(torch::equal(map.sum(0) > 0, inside));
  // The window's softmax row also covers the 7 padding tokens: on the map it sums to that row minus them.
  const at::Tensor row = r.weights[3].select(1, (5 - 4) * 4 + (6 - 4)).to(torch::kFloat64);  // [heads, 16]
  const at::Tensor on_map = row.view({2, 4, 4}).slice(1, 0, 3).slice(2, 0, 3).sum({1, 2});
  EXPECT_LT(test::max_abs_diff(map.sum({1, 2}), on_map), 1e-6);
}

TEST(AttentionCapture, NeighborhoodMapsCoverTheDilatedFootprint) {
  torch::manual_seed(3);
  modules::NeighborhoodAttention2D na(modules::NeighborhoodAttentionOptions(8, 2, 3).dilation(2));
  modules::AttentionCapture capture;
  na(torch::randn({1, 9, 9, 8}));
  ASSERT_EQ(capture.records().size(), 1u);
  const at::Tensor map = capture.records()[0].query_map(0, 4, 4);
  EXPECT_TRUE(torch::equal(map.sum(0) > 0, footprint(9, {-2, 0, 2})));
  EXPECT_LT(test::max_abs_diff(map.sum({1, 2}), torch::ones({2}, torch::kFloat64)), 1e-6);
  // At the corner the window shifts inwards (natten): still 9 neighbours, still a full row.
  const at::Tensor corner = capture.records()[0].query_map(0, 0, 0);
  EXPECT_EQ((corner.sum(0) > 0).sum().item<int64_t>(), 9);
  EXPECT_LT(test::max_abs_diff(corner.sum({1, 2}), torch::ones({2}, torch::kFloat64)), 1e-6);
}

TEST(AttentionCapture, GpsaRecordsItsGatesAndASquareGrid) {
  torch::manual_seed(4);
  modules::GPSA gpsa(modules::GPSAOptions(16, 4));
  modules::AttentionCapture capture;
  gpsa(torch::randn({1, 16, 16}));
  ASSERT_EQ(capture.records().size(), 1u);
  const auto& r = capture.records()[0];
  EXPECT_EQ(r.kind, "gpsa");
  EXPECT_EQ(r.query_grid, (std::array<int64_t, 2>{4, 4}));
  ASSERT_EQ(r.head_labels.size(), 4u);
  EXPECT_EQ(r.head_labels[0], "gate 0.73");  // sigmoid(1): ConViT's gating_param starts at 1
  EXPECT_LT(test::max_abs_diff(r.query_map(0, 1, 2).sum({1, 2}), torch::ones({4}, torch::kFloat64)), 1e-6);
}

TEST(AttentionCapture, RoutedRowsCoverExactlyTheRegionsTheQueryWasRoutedTo) {
  // BiFormer on an 8x8 map in 2x2 regions of 4x4, top-1: a query's keys are one whole region.
  torch::manual_seed(5);
  modules::BiLevelRoutingAttention bra(modules::BiLevelRoutingAttentionOptions(16).num_heads(2).n_win(2).topk(1));
  modules::AttentionCapture capture;
  bra(torch::randn({1, 8, 8, 16}));
  ASSERT_EQ(capture.records().size(), 1u);
  const auto& r = capture.records()[0];
  EXPECT_EQ(r.kind, "routed");
  const at::Tensor map = r.query_map(0, 5, 1);  // a query in region 2 (bottom left)
  const int64_t routed = bra->last_routing[0][2][0].item<int64_t>();
  at::Tensor region = torch::zeros({8, 8}, torch::kBool);
  region.slice(0, (routed / 2) * 4, (routed / 2) * 4 + 4).slice(1, (routed % 2) * 4, (routed % 2) * 4 + 4).fill_(true);
  EXPECT_TRUE(torch::equal(map.sum(0) > 0, region));
  EXPECT_LT(test::max_abs_diff(map.sum({1, 2}), torch::ones({2}, torch::kFloat64)), 1e-6);
}

TEST(AttentionCapture, HaloRowsCoverTheBlockAndItsHaloInsideTheMap) {
  // 8x8 map, blocks of 4, halo 1: the bottom-right block's window is rows / columns 3..7 (8 is outside).
  torch::manual_seed(6);
  modules::HaloAttention halo(modules::HaloAttentionOptions(16).num_heads(2).block_size(4).halo_size(1));
  halo->eval();
  modules::AttentionCapture capture;
  halo(torch::randn({1, 16, 8, 8}));
  ASSERT_EQ(capture.records().size(), 1u);
  const at::Tensor map = capture.records()[0].query_map(0, 6, 5);
  at::Tensor window = torch::zeros({8, 8}, torch::kBool);
  window.slice(0, 3, 8).slice(1, 3, 8).fill_(true);
  EXPECT_TRUE(torch::equal(map.sum(0) > 0, window));
  // The window's 11 cells outside the map are zero-padded keys that still take part in timm's softmax.
  EXPECT_LT(map.sum({1, 2}).max().item<double>(), 1.0);
  const at::Tensor interior = capture.records()[0].query_map(0, 1, 1);  // the top-left block: 11 padded cells too
  EXPECT_LT(interior.sum({1, 2}).max().item<double>(), 1.0);
}

TEST(Heatmap, DrawsTilesAndRefusesATileThatDoesNotFit) {
  const fs::path dir = test::temp_dir("heatmap");
  viz::HeatmapFigure f;
  f.title = "two tiles";
  f.value_label = "value";
  f.tiles.push_back({2, 2, {0, 1, 2, 3}, "a"});
  f.tiles.push_back({2, 2, {3, 2, 1, 0}, "b"});
  f.tile_px = 64;
  f.markers = {{0.5, 0.5}};
  viz::draw_heatmaps(f, (dir / "h.png").string());
  const at::Tensor img = datasets::read_image((dir / "h.png").string());
  EXPECT_EQ(img.size(2), 3);
  EXPECT_GE(img.size(1), 2 * 64);
  f.tiles.push_back({3, 3, {1, 2}, "short"});
  EXPECT_NE(test::error_of([&] { viz::draw_heatmaps(f, (dir / "bad.png").string()); }).find("tile 'short' has 2 values for 3 x 3"),
            std::string::npos);
}

TEST(CliViz, ErfWritesTheHeatmapTheAreaRatiosAndTheMaps) {
  const fs::path dir = test::temp_dir("viz_erf");
  test::write_tiny_idx(dir / "data", 8, 4);
  std::string out;
  const std::string model = "--model van_b0 --set embed_dims=[8,16,16,16] --set depths=[1,1,1,1] --in-chans 1 --img-size 32 ";
  ASSERT_EQ(run("viz erf " + model + "--data mnist:" + (dir / "data").string() + " --num-images 3 --output " +
                    (dir / "erf.png").string(), &out), 0) << out;
  EXPECT_NE(out.find("high-contribution area ratio"), std::string::npos) << out;
  const nlohmann::json j = test::read_json(dir / "erf.json");
  EXPECT_EQ(j["num_images"], 3);
  EXPECT_EQ(j["stage"], 3);
  EXPECT_EQ(j["thresholds"].size(), 4u);
  EXPECT_EQ(j["input_size"], nlohmann::json::array({32, 32}));
  const auto maps = checkpoint::read_safetensors((dir / "erf.safetensors").string());
  EXPECT_EQ(maps.tensors["contribution"].sizes(), at::IntArrayRef({32, 32}));
  EXPECT_TRUE(fs::exists(dir / "erf.png"));
  // Bad flags are one-line usage errors naming the flag.
  EXPECT_EQ(run("viz erf " + model + "--data mnist:" + (dir / "data").string() + " --stage 7 --output " +
                    (dir / "x.png").string(), &out), 2);
  EXPECT_NE(out.find("--stage 7: the model has 4 stages"), std::string::npos) << out;
  EXPECT_EQ(run("viz erf " + model + "--grad sign", &out), 2);
}

TEST(CliViz, AttentionDrawsEachStagesLastBlockAndWritesTheMaps) {
  const fs::path dir = test::temp_dir("viz_attention");
  test::write_tiny_idx(dir / "data", 8, 4);
  std::string out;
  const std::string model = "--model nat --set embed_dim=8 --set depths=[1,2] --set num_heads=[1,2] --set kernel_size=3 "
                            "--set dilations=[[1],[1,2]] --in-chans 1 --img-size 32 --data mnist:" + (dir / "data").string() + " ";
  ASSERT_EQ(run("viz attention " + model + "--list-layers", &out), 0) << out;
  EXPECT_NE(out.find("levels.1.blocks.1.attn"), std::string::npos) << out;
  EXPECT_NE(out.find("neighborhood"), std::string::npos) << out;
  ASSERT_EQ(run("viz attention " + model + "--index 2 --query 3,30 --output " + (dir / "a.png").string(), &out), 0) << out;
  const nlohmann::json j = test::read_json(dir / "a.json");
  ASSERT_EQ(j["layers"].size(), 2u);  // the last block of each of the 2 levels
  EXPECT_EQ(j["layers"][1]["module"], "levels.1.blocks.1.attn");
  EXPECT_EQ(j["layers"][0]["query"], nlohmann::json::array({0, 7}));  // x 3 -> 0, y 30 -> 7 on the 8x8 map
  // Level 0 (8x8, k 3): whole rows on the map. Level 1 (4x4, k 3, dilation 2) is smaller than k * d: natten 0.14
  // pads it to 6x6 and the padding tokens take part in the softmax, so its rows on the map sum to less than one.
  for (const auto& head : j["layers"][0]["heads"]) EXPECT_NEAR(head["sum"].get<double>(), 1.0, 1e-5);
  for (const auto& head : j["layers"][1]["heads"]) EXPECT_LT(head["sum"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(dir / "a_levels_1_blocks_1_attn.png"));
  EXPECT_EQ(run("viz attention " + model + "--layer levels.9 --output " + (dir / "b.png").string(), &out), 2);
  EXPECT_NE(out.find("--layer levels.9: no attention there (attention modules: levels.0.blocks.0.attn"), std::string::npos) << out;
  EXPECT_EQ(run("viz attention " + model + "--query 40,1 --output " + (dir / "b.png").string(), &out), 2);
  EXPECT_NE(out.find("--query 40,1: expected x,y inside the 32x32 input"), std::string::npos) << out;
}

}  // namespace
