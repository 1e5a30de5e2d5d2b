#pragma once
// Learning-rate schedule: linear warmup per step, then cosine decay to min_lr (timm's cosine
// scheduler evaluated per update rather than per epoch).
#include <cstdint>

namespace attnzoo::train {

struct CosineSchedule {
  double lr = 1e-3;
  double min_lr = 1e-5;
  double warmup_lr = 1e-6;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  /// lr for the update with index `step` (0-based).
  double operator()(int64_t step) const;
};

}  // namespace attnzoo::train
