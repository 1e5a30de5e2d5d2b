#pragma once
// Where a training run writes, and the rule that runs never overwrite each other (timm's output layout).
#include <string>

namespace attnzoo::train {

/// The folder of a run: `output` exactly when given; else output/<kind>/<experiment>, or
/// output/<kind>/<YYYYMMDD-HHMMSS>-<model>-<img_size> as timm names its runs (local time).
std::string run_output_dir(const std::string& output, const std::string& experiment, const std::string& model,
                           int64_t img_size, const std::string& kind = "train");

/// Makes `dir` the folder of a new run. A folder that already holds a run (its log.jsonl, summary.csv,
/// checkpoints, args or results) is refused with one line naming them, unless `resuming` (the run continues
/// there) or `overwrite` (those files are deleted first; nothing else in the folder is touched).
void claim_output_dir(const std::string& dir, bool resuming, bool overwrite);

}  // namespace attnzoo::train
