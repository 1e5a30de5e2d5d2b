#include <attnzoo/train/progress.h>

#include <cstdio>
#include <unistd.h>

namespace attnzoo::train {
namespace {
std::string hms(double s) {
  const long t = static_cast<long>(s < 0 ? 0 : s);
  char b[32];
  std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  return b;
}
}  // namespace

Progress::Progress(bool enabled, double every, std::string unit)
    : enabled_(enabled), tty_(::isatty(2)), every_(every), unit_(std::move(unit)) {}

void Progress::step(int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss, double lr, double per_s,
                    double eta_s, double elapsed_s) {
  if (!enabled_) return;
  // Step-based runs (epochs <= 0) show no epoch counter.
  char ep[48] = "";
  if (epochs > 0) std::snprintf(ep, sizeof ep, "epoch %ld/%ld ", long(epoch), long(epochs));
  if (tty_) {
    const int width = 24, filled = steps > 0 ? static_cast<int>(width * step / steps) : 0;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s[%s] %ld/%ld loss %.4f lr %.2e %.0f %s ETA %s ", ep, bar.c_str(), long(step), long(steps), loss,
                 lr, per_s, unit_.c_str(), hms(eta_s).c_str());
    std::fflush(stderr);
    open_ = true;
  } else if (elapsed_s - last_ >= every_ || step == steps) {
    last_ = elapsed_s;
    std::fprintf(stderr, "%sstep %ld/%ld loss %.4f lr %.2e %.0f %s elapsed %s ETA %s\n", ep, long(step), long(steps), loss, lr,
                 per_s, unit_.c_str(), hms(elapsed_s).c_str(), hms(eta_s).c_str());
  }
}

void Progress::finish() {
  if (open_) std::fprintf(stderr, "\n");
  open_ = false;
}

void Progress::line(const std::string& s) {
  if (!enabled_) return;
  finish();
  std::fprintf(stderr, "%s\n", s.c_str());
}

}  // namespace attnzoo::train
