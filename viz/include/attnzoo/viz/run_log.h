#pragma once
// The numbers of a training run, read from its log.jsonl as the trainers write it: image runs' epoch records
// ({"type": "epoch", "epoch", "train_loss", "eval_top1", "lr", ...}) against the epoch, LRA runs' evaluation
// records ({"step", "loss", "val_accuracy", "lr", ...}) against the step. A run still in progress reads fine
// (a half-written last line is skipped).
#include <map>
#include <string>
#include <vector>

namespace attnzoo::viz {

struct RunSeries {
  std::string label;  // the run folder's name, or the caller's --label
  std::string x_name; // "epoch" or "step"
  std::vector<double> x;
  std::map<std::string, std::vector<double>> metrics;  // name -> one value per x (NaN where a record lacks it)
};

/// Reads RUN_DIR/log.jsonl. Throws std::invalid_argument naming the file when it is missing or holds no
/// epoch / evaluation records.
RunSeries read_run(const std::string& run_dir);

/// The metrics a plot shows by default: eval_top1, train_loss, lr (image runs) or val_accuracy, loss, lr (LRA).
std::vector<std::string> default_metrics(const RunSeries& run);

}  // namespace attnzoo::viz
