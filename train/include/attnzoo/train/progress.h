#pragma once
// Progress output: an updating bar on a terminal, plain periodic lines otherwise (logs, CI).
#include <string>

namespace attnzoo::train {

class Progress {
 public:
  /// `unit` names the throughput (img/s, tok/s).
  explicit Progress(bool enabled, double line_every_s = 10.0, std::string unit = "img/s");
  void step(int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss, double lr, double per_s,
            double eta_s, double elapsed_s);
  /// Ends the bar line (terminal) before other output.
  void finish();
  /// A message on its own line.
  void line(const std::string& s);

 private:
  bool enabled_, tty_, open_ = false;
  double every_, last_ = -1e9;
  std::string unit_;
};

}  // namespace attnzoo::train
