#pragma once
// Line charts of runs (`attnzoo plot`): one chart per metric, one line per run, axes with ticks, the x
// quantity and the metric as labels, a legend of the runs. PNG (OpenCV) and, optionally, SVG.
#include <attnzoo/viz/run_log.h>

#include <string>
#include <vector>

namespace attnzoo::viz {

struct PlotOptions {
  int chart_width = 720;
  int chart_height = 360;
};

/// Draws `metrics` of `runs` stacked vertically into `png_path` (and `svg_path` when not empty). A metric
/// that no run has is a std::invalid_argument naming it and the metrics there are.
void plot_runs(const std::vector<RunSeries>& runs, const std::vector<std::string>& metrics, const std::string& png_path,
               const std::string& svg_path = "", const PlotOptions& options = {});

/// Tick values for [lo, hi]: about `count` round steps (1, 2 or 5 x 10^k) covering the range.
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

}  // namespace attnzoo::viz
