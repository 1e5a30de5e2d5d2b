#pragma once
// Learning-rate schedules as timm's train.py offers them (`--sched`), evaluated per update: a linear warmup
// over `warmup_steps`, then
//   cosine:    cosine decay from lr to min_lr over the rest of `total_steps` (timm's CosineLRScheduler with
//              warmup_prefix; the cooldown epochs timm appends stay at min_lr),
//   step:      lr * decay_rate ^ (epoch // decay_epochs)                (timm's StepLRScheduler),
//   multistep: lr * decay_rate ^ (milestones <= epoch + 1)              (timm's MultiStepLRScheduler),
//   none:      lr.
// The step schedules change per epoch, as timm steps them (sched_on_updates off).
#include <cstdint>
#include <string>
#include <vector>

namespace attnzoo::train {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | step | multistep | none
  double lr = 1e-3;
  double min_lr = 1e-5;
  double warmup_lr = 1e-6;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;      // cosine: the decay ends here (later steps: min_lr)
  int64_t steps_per_epoch = 1;  // step / multistep: the epoch of an update
  double decay_epochs = 90;     // step
  double decay_rate = 0.1;      // step, multistep
  std::vector<int64_t> milestones{90, 180, 270};  // multistep (epochs)
  /// lr for the update with index `step` (0-based).
  double operator()(int64_t step) const;
};

/// The schedule kinds `--sched` accepts.
bool is_schedule_kind(const std::string& kind);

}  // namespace attnzoo::train
