#include <attnzoo/train/schedule.h>

#include <algorithm>
#include <cmath>

namespace attnzoo::train {

bool is_schedule_kind(const std::string& kind) {
  return kind == "cosine" || kind == "step" || kind == "multistep" || kind == "none" || kind == "plateau";
}

bool PlateauState::step(double metric, bool maximize, int64_t patience, double decay_rate, double min_lr) {
  constexpr double kThreshold = 1e-4;  // ReduceLROnPlateau's default, threshold_mode 'rel'
  const bool better = !seen || (maximize ? metric > best * (1 + kThreshold) : metric < best * (1 - kThreshold));
  if (better) {
    best = metric;
    seen = true;
    bad_epochs = 0;
    return false;
  }
  if (++bad_epochs <= patience) return false;
  bad_epochs = 0;
  const double lowered = std::max(lr * decay_rate, min_lr);
  if (lr - lowered <= 1e-8) return false;  // ReduceLROnPlateau's eps
  lr = lowered;
  return true;
}

double LrSchedule::operator()(int64_t step) const {
  if (step < warmup_steps) return warmup_lr + (lr - warmup_lr) * static_cast<double>(step) / static_cast<double>(warmup_steps);
  const int64_t epoch = step / std::max<int64_t>(1, steps_per_epoch);
  if (kind == "step") return lr * std::pow(decay_rate, std::floor(static_cast<double>(epoch) / decay_epochs));
  if (kind == "multistep") {
    // timm: bisect.bisect_right(milestones, epoch + 1)
    const auto passed = std::upper_bound(milestones.begin(), milestones.end(), epoch + 1) - milestones.begin();
    return lr * std::pow(decay_rate, static_cast<double>(passed));
  }
  if (kind == "none") return lr;
  if (kind == "plateau") return plateau_lr > 0 ? plateau_lr : lr;
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::clamp(static_cast<double>(step - warmup_steps) / static_cast<double>(span), 0.0, 1.0);
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * t));
}

}  // namespace attnzoo::train
