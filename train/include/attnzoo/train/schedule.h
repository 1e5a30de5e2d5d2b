#pragma once
// Learning-rate schedules as timm's train.py offers them (`--sched`), evaluated per update: a linear warmup
// over `warmup_steps`, then
//   cosine:    cosine decay from lr to min_lr over the rest of `total_steps` (timm's CosineLRScheduler with
//              warmup_prefix; the cooldown epochs timm appends stay at min_lr),
//   step:      lr * decay_rate ^ (epoch // decay_epochs)                (timm's StepLRScheduler),
//   multistep: lr * decay_rate ^ (milestones <= epoch + 1)              (timm's MultiStepLRScheduler),
//   none:      lr.
//   plateau:   `plateau_lr`, which the trainer lowers by decay_rate (not below min_lr) when the eval metric has not
//              improved for more than patience epochs (timm's PlateauLRScheduler: torch's ReduceLROnPlateau,
//              threshold 1e-4 relative, no cooldown; PlateauState below).
// The step schedules change per epoch, as timm steps them (sched_on_updates off).
#include <cstdint>
#include <string>
#include <vector>

namespace attnzoo::train {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | step | multistep | none | plateau
  double lr = 1e-3;
  double min_lr = 1e-5;
  double warmup_lr = 1e-6;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;      // cosine: the decay ends here (later steps: min_lr)
  int64_t steps_per_epoch = 1;  // step / multistep: the epoch of an update
  double decay_epochs = 90;     // step
  double decay_rate = 0.1;      // step, multistep
  std::vector<int64_t> milestones{90, 180, 270};  // multistep (epochs)
  double plateau_lr = 0;        // plateau: the lr after the warmup (0: lr)
  /// lr for the update with index `step` (0-based).
  double operator()(int64_t step) const;
};

/// The schedule kinds `--sched` accepts.
bool is_schedule_kind(const std::string& kind);

/// The state of `--sched plateau` (torch's ReduceLROnPlateau as timm configures it), part of the run's checkpoint.
struct PlateauState {
  double lr = 0;           // the lr after the warmup
  double best = 0;         // the best metric so far (valid once `seen`)
  bool seen = false;
  int64_t bad_epochs = 0;  // epochs since `best` improved
  /// One epoch's eval metric (`maximize`: accuracy; else loss). Better means beyond best by a relative 1e-4;
  /// more than `patience` epochs without it multiply the lr by `decay_rate` (not below `min_lr`, and only when
  /// that changes it by more than 1e-8) and restart the count. Returns true when the lr was lowered.
  bool step(double metric, bool maximize, int64_t patience, double decay_rate, double min_lr);
};

}  // namespace attnzoo::train
