#include "commands.h"

#include <attnzoo/viz/plot.h>
#include <attnzoo/viz/run_log.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace attnzoo::cli {

namespace {

struct PlotArgs {
  std::vector<std::string> runs, labels;
  std::string metrics, output = "curves.png";
  bool svg = false;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

int run_plot(const PlotArgs& a) {
  if (!a.labels.empty() && a.labels.size() != a.runs.size())
    throw UsageError("--label: give one per run folder (" + std::to_string(a.runs.size()) + "), got " +
                     std::to_string(a.labels.size()));
  std::vector<viz::RunSeries> runs;
  try {
    for (size_t i = 0; i < a.runs.size(); ++i) {
      runs.push_back(viz::read_run(a.runs[i]));
      if (!a.labels.empty()) runs.back().label = a.labels[i];
    }
    const std::vector<std::string> metrics = a.metrics.empty() ? viz::default_metrics(runs.front()) : split_commas(a.metrics);
    const std::string svg = a.svg ? std::filesystem::path(a.output).replace_extension(".svg").string() : "";
    viz::plot_runs(runs, metrics, a.output, svg);
    std::printf("wrote %s%s%s: %zu charts, %zu runs\n", a.output.c_str(), svg.empty() ? "" : " and ", svg.c_str(),
                metrics.size(), runs.size());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return 0;
}

}  // namespace

void add_plot_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plot", "training curves of runs as a PNG (and SVG): one chart per metric, one line per run");
  auto a = std::make_shared<PlotArgs>();
  cmd->add_option("runs", a->runs, "run folders of attnzoo train (image or LRA; a running one is fine)")->required();
  cmd->add_option("--metric", a->metrics,
                  "comma-separated log.jsonl fields (default: eval_top1,train_loss,lr; LRA: val_accuracy,loss,lr)");
  cmd->add_option("--label", a->labels, "legend names, one per run (default: the folder names)");
  cmd->add_option("--output", a->output, "the PNG to write (default curves.png)");
  cmd->add_flag("--svg", a->svg, "also write the same charts as SVG beside the PNG");
  cmd->callback([&action, a] { action = [a] { return run_plot(*a); }; });
}

}  // namespace attnzoo::cli
