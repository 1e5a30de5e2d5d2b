#include <attnzoo/viz/run_log.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace attnzoo::viz {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The record's x and kind: image epoch records, LRA evaluation records (they carry val_accuracy).
bool is_point(const nlohmann::json& r, std::string& x_name) {
  if (!r.is_object()) return false;
  if (r.value("type", "") == "epoch" && r.contains("epoch")) {
    x_name = "epoch";
    return true;
  }
  if (!r.contains("type") && r.contains("step") && r.contains("val_accuracy")) {
    x_name = "step";
    return true;
  }
  return false;
}

}  // namespace

RunSeries read_run(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / "log.jsonl").string();
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": no such file (a run folder of attnzoo train)");
  RunSeries run;
  run.label = std::filesystem::path(run_dir).lexically_normal().filename().string();
  if (run.label.empty()) run.label = std::filesystem::path(run_dir).lexically_normal().parent_path().filename().string();
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string x_name;
    if (!is_point(r, x_name)) continue;  // step records, or a line still being written
    if (!run.x_name.empty() && run.x_name != x_name) continue;
    run.x_name = x_name;
    run.x.push_back(r.at(x_name).get<double>());
    for (const auto& [key, value] : r.items()) {
      if (key == x_name || !value.is_number()) continue;
      auto& column = run.metrics[key];
      column.resize(n, kNaN);  // a metric that appears later (e.g. after a resume with EMA)
      column.push_back(value.get<double>());
    }
    ++n;
    for (auto& [key, column] : run.metrics) column.resize(n, kNaN);
  }
  if (n == 0) throw std::invalid_argument(path + ": no epoch or evaluation records yet");
  return run;
}

std::vector<std::string> default_metrics(const RunSeries& run) {
  if (run.x_name == "step") return {"val_accuracy", "loss", "lr"};
  return {"eval_top1", "train_loss", "lr"};
}

}  // namespace attnzoo::viz
