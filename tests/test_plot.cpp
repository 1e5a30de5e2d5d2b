// attnzoo plot: runs read from log.jsonl (image and LRA records, a half-written last line), round tick values,
// and charts whose lines are really drawn (PNG pixels in the runs' colours, SVG polylines).
#include "test_util.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/viz/plot.h>
#include <attnzoo/viz/run_log.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

namespace {

namespace fs = std::filesystem;
using namespace attnzoo;

std::string image_log(double top1_step) {
  std::string log;
  for (int e = 1; e <= 4; ++e) {
    log += R"({"type":"step","epoch":)" + std::to_string(e - 1) + R"(,"loss":2.0})" "\n";
    log += R"({"type":"epoch","epoch":)" + std::to_string(e) + R"(,"train_loss":)" + std::to_string(2.0 / e) +
           R"(,"eval_top1":)" + std::to_string(50 + top1_step * e) + R"(,"lr":0.001})" "\n";
  }
  return log + R"({"type":"epoch","epo)";  // a run still writing its next line
}

fs::path write_run(const fs::path& dir, const std::string& log) {
  fs::create_directories(dir);
  write_file_atomic((dir / "log.jsonl").string(), log);
  return dir;
}

TEST(Plot, TicksAreRoundNumbersCoveringTheRange) {
  EXPECT_EQ(viz::nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(viz::nice_ticks(91.3, 92.6), (std::vector<double>{91.5, 92.0, 92.5}));  // range / 5 = 0.26 -> steps of 0.5
  EXPECT_EQ(viz::nice_ticks(0.0003, 0.0011, 4), (std::vector<double>{0.0004, 0.0006, 0.0008, 0.001}));
}

TEST(Plot, ReadsImageAndLraRuns) {
  const auto tmp = test::temp_dir("plot_read");
  const auto run = viz::read_run(write_run(tmp / "van", image_log(10)).string());
  EXPECT_EQ(run.label, "van");
  EXPECT_EQ(run.x_name, "epoch");
  EXPECT_EQ(run.x, (std::vector<double>{1, 2, 3, 4}));  // step records and the unfinished line are skipped
  EXPECT_DOUBLE_EQ(run.metrics.at("eval_top1")[3], 90.0);
  EXPECT_EQ(viz::default_metrics(run), (std::vector<std::string>{"eval_top1", "train_loss", "lr"}));
  const auto lra = viz::read_run(
      write_run(tmp / "lra", "{\"step\":100,\"loss\":2.1,\"lr\":0.01,\"val_accuracy\":20.5}\n"
                             "{\"step\":200,\"loss\":1.9,\"lr\":0.01,\"val_accuracy\":30.0}\n")
          .string());
  EXPECT_EQ(lra.x_name, "step");
  EXPECT_EQ(lra.x, (std::vector<double>{100, 200}));
  EXPECT_EQ(viz::default_metrics(lra)[0], "val_accuracy");
  EXPECT_THROW(viz::read_run((tmp / "nothing").string()), std::invalid_argument);
}

TEST(Plot, DrawsEveryRunInItsColour) {
  const auto tmp = test::temp_dir("plot_draw");
  std::vector<viz::RunSeries> runs = {viz::read_run(write_run(tmp / "a", image_log(10)).string()),
                                      viz::read_run(write_run(tmp / "b", image_log(5)).string())};
  const std::string png = (tmp / "c.png").string(), svg = (tmp / "c.svg").string();
  viz::plot_runs(runs, {"eval_top1", "train_loss"}, png, svg);
  const at::Tensor img = datasets::read_image(png);  // HWC RGB
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{2 * 360, 720, 3}));
  auto has_colour = [&](int r, int g, int b) {
    return (img.select(2, 0).eq(r) & img.select(2, 1).eq(g) & img.select(2, 2).eq(b)).sum().item<int64_t>() > 50;
  };
  EXPECT_TRUE(has_colour(31, 119, 180));  // run a (tab10 blue)
  EXPECT_TRUE(has_colour(255, 127, 14));  // run b (tab10 orange)
  const std::string text = read_file_bytes(svg);
  size_t lines = 0;
  for (size_t p = text.find("<polyline"); p != std::string::npos; p = text.find("<polyline", p + 1)) ++lines;
  EXPECT_EQ(lines, 4u);  // 2 charts x 2 runs
  EXPECT_NE(text.find("eval_top1 (%)"), std::string::npos);
  try {
    viz::plot_runs(runs, {"eval_top9"}, png);
    ADD_FAILURE() << "plotted a metric no run has";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "--metric eval_top9: no run logs it (a has eval_top1, lr, train_loss)");
  }
}

TEST(Plot, FromTheCli) {
  const auto tmp = test::temp_dir("plot_cli");
  write_run(tmp / "a", image_log(10));
  write_run(tmp / "b", image_log(5));
  std::string out;
  const std::string png = (tmp / "curves.png").string();
  ASSERT_EQ(test::run_command(test::cli() + " plot " + (tmp / "a").string() + " " + (tmp / "b").string() +
                                  " --label fast --label slow --svg --output " + png,
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("wrote " + png + " and " + (tmp / "curves.svg").string() + ": 3 charts, 2 runs"), std::string::npos) << out;
  EXPECT_NE(read_file_bytes((tmp / "curves.svg").string()).find(">slow</text>"), std::string::npos);
  EXPECT_EQ(test::run_command(test::cli() + " plot " + (tmp / "missing").string(), &out), 2);
  EXPECT_NE(out.find("missing/log.jsonl: no such file"), std::string::npos) << out;
}

}  // namespace
