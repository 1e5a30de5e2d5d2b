#include "commands.h"
#include "model_args.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/eval/bench.h>
#include <attnzoo/eval/gemm_peak.h>
#include <attnzoo/eval/profile.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <iostream>

namespace attnzoo::cli {

namespace {

struct ProfileArgs {
  bool table = false;
  std::string json_file;
  size_t top = 25;
  bool refresh_peak = false;
  bool wanted() const { return table || !json_file.empty(); }
};

// Profiles the same step the benchmark timed; returns the JSON (with the rendered table under "table").
nlohmann::json run_profile(models::ClassifierImpl& model, const eval::BenchOptions& opts, const ProfileArgs& a) {
  const eval::BenchStep step = eval::bench_step(model, opts);
  const eval::Profile p = eval::profile_ops(step.step, std::max(1, opts.iters / 2), step.forward);
  nlohmann::json j = p.to_json();
  if (!a.json_file.empty()) {
    std::ofstream out(a.json_file);
    if (!out) throw std::runtime_error("--profile-json " + a.json_file + ": cannot write");
    out << j.dump(1) << "\n";
  }
  j["table"] = p.table(a.top);
  return j;
}

// timm benchmark.py's columns (model, <mode>_samples_per_sec, _step_time, _batch_size, _img_size, _gmacs,
// param_count in millions), then attnzoo's (latency percentiles, peak memory, dtype, threads).
nlohmann::ordered_json results_row(const std::string& name, const nlohmann::json& j) {
  const std::string m = j["mode"].get<std::string>() + "_";
  nlohmann::ordered_json row = nlohmann::ordered_json::object();
  row["model"] = name;
  row[m + "samples_per_sec"] = j["images_per_second"];
  row[m + "step_time"] = j["latency_ms_p50"];
  row[m + "batch_size"] = j["batch"];
  row[m + "img_size"] = j["img_size"];
  row[m + "gmacs"] = j["gmacs"];
  row["param_count"] = j["param_count"].get<double>() / 1e6;
  row[m + "latency_ms_p90"] = j["latency_ms_p90"];
  row[m + "peak_memory_mb"] = j["peak_memory_bytes"].get<double>() / 1048576.0;
  row["dtype"] = j["dtype"];
  row["threads"] = j["threads"];
  return row;
}

// timm's write_results: CSV columns in row order, or a JSON array, by the file's extension.
void write_results(const std::string& path, const std::vector<nlohmann::ordered_json>& rows) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json") {
    write_file_atomic(path, nlohmann::ordered_json(rows).dump(1) + "\n");
    return;
  }
  if (ext != ".csv") throw UsageError("--results-file " + path + ": expected a .csv or .json file");
  std::ostringstream csv;
  std::vector<std::string> columns;
  for (const auto& row : rows)
    for (const auto& [key, value] : row.items())
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
  for (size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << columns[i];
  csv << "\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const nlohmann::ordered_json v = row.contains(columns[i]) ? row.at(columns[i]) : nlohmann::ordered_json();
      csv << (i ? "," : "") << (v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
    }
    csv << "\n";
  }
  write_file_atomic(path, csv.str());
}

struct SweepArgs {
  std::string model_list, results_file;
};

// Benchmarks one model; returns attnzoo's result JSON (with the profile when asked).
nlohmann::json bench_one(const ModelArgs& m, const eval::BenchOptions& o, const ProfileArgs& prof, const PretrainedArgs& pretrained) {
  auto model = m.build();
  if (pretrained.pretrained) models::load_weights(*model, pretrained.resolve(m.name));
  eval::BenchOptions opts = o;
  if (opts.img_size <= 0) opts.img_size = model->pretrained_cfg().input_size[1];
  opts.in_chans = models::registry().resolve_args(m.name, m.overrides()).value("in_chans", int64_t{3});
  auto r = eval::benchmark(*model, opts);
  nlohmann::json j = r.to_json();
  j["model"] = m.name;
  j["batch"] = opts.batch;
  j["img_size"] = opts.img_size;
  j["mode"] = opts.train ? "train" : "infer";
  j["dtype"] = opts.dtype;
  j["threads"] = at::get_num_threads();
  if (prof.wanted()) j["profile"] = run_profile(*model, opts, prof);
  return j;
}

void print_result(nlohmann::json j, bool as_json, bool table) {
  if (as_json) {
    if (j.contains("profile")) j["profile"].erase("table");
    std::cout << j.dump(1) << "\n";
    return;
  }
  const bool train = j["mode"] == "train";
  std::printf("%s %s bs%ld %ldpx %s, %d threads: %.1f img/s, latency p50 %.1f ms p90 %.1f ms p99 %.1f ms, peak RSS %.0f MiB, "
              "%.2f M params, %.3f GMACs (%.3f GFLOPs) per image\n",
              j["model"].get<std::string>().c_str(), train ? "train" : "infer", long(j["batch"].get<int64_t>()),
              long(j["img_size"].get<int64_t>()), j["dtype"].get<std::string>().c_str(), j["threads"].get<int>(),
              j["images_per_second"].get<double>(), j["latency_ms_p50"].get<double>(), j["latency_ms_p90"].get<double>(),
              j["latency_ms_p99"].get<double>(), j["peak_memory_bytes"].get<double>() / 1048576.0,
              j["param_count"].get<double>() / 1e6, j["gmacs"].get<double>(), j["gflops"].get<double>());
  if (j.value("peak_gflops_per_s", 0.0) > 0)
    std::printf("achieved %.1f GFLOP/s = %.1f %% of this machine's %d-thread float32 GEMM peak (%.1f GFLOP/s%s)\n",
                j["achieved_gflops_per_s"].get<double>(), 100.0 * j["peak_share"].get<double>(), j["threads"].get<int>(),
                j["peak_gflops_per_s"].get<double>(), train ? "; a training step counts 3x the forward FLOPs" : "");
  if (table) std::cout << j["profile"]["table"].get<std::string>();
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("bench", "throughput, latency percentiles, peak memory, params and GFLOPs of a model");
  auto m = std::make_shared<ModelArgs>();
  auto o = std::make_shared<eval::BenchOptions>();
  auto json = std::make_shared<bool>(false);
  auto prof = std::make_shared<ProfileArgs>();
  auto pretrained = std::make_shared<PretrainedArgs>();
  o->img_size = -1;
  m->add_to(*cmd, /*positional_name=*/false, /*required=*/false);
  pretrained->add_to(*cmd);
  cmd->add_option("--batch,--batch-size,-b", o->batch, "batch size")->check(CLI::PositiveNumber);
  cmd->add_option("--img-size", o->img_size, "input resolution (default: pretrained config)");
  cmd->add_flag("--train", o->train, "time forward + backward + update instead of inference");
  cmd->add_option("--dtype", o->dtype, "float32|float64|bfloat16")->check(CLI::IsMember({"float32", "float64", "bfloat16"}));
  cmd->add_option("--warmup", o->warmup, "untimed iterations");
  cmd->add_option("--iters", o->iters, "timed iterations")->check(CLI::PositiveNumber);
  cmd->add_option("--device", o->device, "cpu or cuda[:N]")->check(device_validator());
  cmd->add_flag("--channels-last", o->channels_last, "NHWC input and 4-D weights (as train --channels-last)");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->add_flag("--profile", prof->table, "also print a per-op table (self time, share, GFLOP/s, bytes moved)");
  cmd->add_option("--profile-json", prof->json_file, "write the per-op profile as JSON to this file");
  cmd->add_option("--profile-top", prof->top, "ops shown in the --profile table (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag_function("--no-peak", [o](int64_t) { o->compare_to_peak = false; }, "skip the GEMM peak probe (no share of peak)");
  cmd->add_flag("--refresh-peak", prof->refresh_peak, "measure the GEMM peak again instead of using the cached value");
  auto sweep = std::make_shared<SweepArgs>();
  cmd->add_option("--model-list", sweep->model_list, "benchmark every model named in this file (one per line); --model may also be a "
                                                    "wildcard ('van_b*')")->check(CLI::ExistingFile);
  cmd->add_option("--results-file", sweep->results_file, "write timm benchmark.py's columns for every model to a .csv or .json file");
  cmd->callback([&action, m, o, json, prof, pretrained, sweep] {
    action = [m, o, json, prof, pretrained, sweep] {
      if (prof->refresh_peak && o->compare_to_peak) eval::gemm_peak(/*refresh=*/true);
      const std::vector<std::string> names = model_names(m->name, sweep->model_list);
      std::vector<nlohmann::ordered_json> rows;
      nlohmann::json all = nlohmann::json::array();  // --json over several models: one array
      for (const std::string& name : names) {
        ModelArgs one = *m;
        one.name = name;
        nlohmann::json j = bench_one(one, *o, *prof, *pretrained);
        rows.push_back(results_row(name, j));
        if (*json && names.size() > 1) {
          if (j.contains("profile")) j["profile"].erase("table");
          all.push_back(j);
        } else {
          print_result(j, *json, prof->table);
        }
      }
      if (*json && names.size() > 1) std::cout << all.dump(1) << "\n";
      if (!sweep->results_file.empty()) {
        const std::string rate = std::string(o->train ? "train" : "infer") + "_samples_per_sec";
        std::stable_sort(rows.begin(), rows.end(), [&rate](const auto& x, const auto& y) {  // fastest first, as timm
          return x.at(rate).template get<double>() > y.at(rate).template get<double>();
        });
        write_results(sweep->results_file, rows);
        if (!*json) std::printf("wrote %s: %zu models\n", sweep->results_file.c_str(), rows.size());
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
