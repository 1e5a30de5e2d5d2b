#pragma once
// The checkpoint of a training run: what `train --resume` needs to continue exactly, and what `eval` /
// `predict` need to rebuild the model and its input pipeline from the file alone. One safetensors file:
//   tensors   state_dict.*  (the model), state_dict_ema.* (EMA weights), optimizer.*, rng.torch_cpu
//   metadata  "attnzoo.envelope": "1", "format": "pt", and the run description (JSON) under its kind:
//             "attnzoo.train" (image classification) or "attnzoo.lra" (Long Range Arena)
// A plain weights file carrying a run description (LRA's final.safetensors) loads too: its tensors are
// the model's.
#include <attnzoo/checkpoint/tensor_dict.h>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>

namespace attnzoo::checkpoint {

inline constexpr const char* kImageRun = "attnzoo.train";
inline constexpr const char* kLraRun = "attnzoo.lra";

struct RunCheckpoint {
  std::string kind = kImageRun;
  nlohmann::json meta = nlohmann::json::object();  // progress counters and the run description
  TensorDict model, ema, optimizer;                // ema / optimizer empty when not recorded
  at::Tensor rng;                                  // the CPU generator state; undefined when not recorded

  /// Writes atomically (a crash never leaves a half file).
  void save(const std::string& path) const;
  /// Throws std::runtime_error "<path>: not an attnzoo training checkpoint of this kind ..." for other files.
  static RunCheckpoint load(const std::string& path, const std::string& kind);
  /// The run description of an attnzoo checkpoint of `kind`, or null for any other (or unreadable) file.
  static nlohmann::json peek(const std::string& path, const std::string& kind);
};

}  // namespace attnzoo::checkpoint
