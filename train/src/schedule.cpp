#include <attnzoo/train/schedule.h>

#include <algorithm>
#include <cmath>

namespace attnzoo::train {

double CosineSchedule::operator()(int64_t step) const {
  if (step < warmup_steps) return warmup_lr + (lr - warmup_lr) * static_cast<double>(step) / static_cast<double>(warmup_steps);
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::clamp(static_cast<double>(step - warmup_steps) / static_cast<double>(span), 0.0, 1.0);
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * t));
}

}  // namespace attnzoo::train
