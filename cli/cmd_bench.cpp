#include "commands.h"
#include "model_args.h"

#include <attnzoo/eval/bench.h>
#include <attnzoo/eval/gemm_peak.h>
#include <attnzoo/eval/profile.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <ATen/Parallel.h>

#include <cstdio>
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

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("bench", "throughput, latency percentiles, peak memory, params and GFLOPs of a model");
  auto m = std::make_shared<ModelArgs>();
  auto o = std::make_shared<eval::BenchOptions>();
  auto json = std::make_shared<bool>(false);
  auto prof = std::make_shared<ProfileArgs>();
  auto pretrained = std::make_shared<PretrainedArgs>();
  o->img_size = -1;
  m->add_to(*cmd);
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
  cmd->callback([&action, m, o, json, prof, pretrained] {
    action = [m, o, json, prof, pretrained] {
      auto model = m->build();
      if (pretrained->pretrained) models::load_weights(*model, pretrained->resolve(m->name));
      eval::BenchOptions opts = *o;
      if (opts.img_size <= 0) opts.img_size = model->pretrained_cfg().input_size[1];
      opts.in_chans = models::registry().resolve_args(m->name, m->overrides()).value("in_chans", int64_t{3});
      if (prof->refresh_peak && opts.compare_to_peak) eval::gemm_peak(/*refresh=*/true);
      auto r = eval::benchmark(*model, opts);
      nlohmann::json j = r.to_json();
      j["model"] = m->name;
      j["batch"] = opts.batch;
      j["img_size"] = opts.img_size;
      j["mode"] = opts.train ? "train" : "infer";
      j["dtype"] = opts.dtype;
      j["threads"] = at::get_num_threads();
      if (prof->wanted()) j["profile"] = run_profile(*model, opts, *prof);
      if (*json) {
        if (j.contains("profile")) j["profile"].erase("table");
        std::cout << j.dump(1) << "\n";
      } else {
        std::printf("%s %s bs%ld %ldpx %s, %d threads: %.1f img/s, latency p50 %.1f ms p90 %.1f ms p99 %.1f ms, peak RSS %.0f MiB, "
                    "%.2f M params, %.3f GMACs (%.3f GFLOPs) per image\n",
                    m->name.c_str(), opts.train ? "train" : "infer", long(opts.batch), long(opts.img_size), opts.dtype.c_str(),
                    at::get_num_threads(), r.images_per_second, r.latency_ms_p50, r.latency_ms_p90, r.latency_ms_p99,
                    r.peak_memory_bytes / 1048576.0, r.param_count / 1e6, r.gmacs, r.gflops);
        if (r.peak_gflops_per_s > 0)
          std::printf("achieved %.1f GFLOP/s = %.1f %% of this machine's %d-thread float32 GEMM peak (%.1f GFLOP/s%s)\n",
                      r.achieved_gflops_per_s, 100.0 * r.peak_share(), at::get_num_threads(), r.peak_gflops_per_s,
                      opts.train ? "; a training step counts 3x the forward FLOPs" : "");
        if (prof->table) std::cout << j["profile"]["table"].get<std::string>();
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
