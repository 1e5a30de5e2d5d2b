#include "commands.h"
#include "model_args.h"

#include <attnzoo/eval/bench.h>
#include <attnzoo/models/registry.h>

#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>

namespace attnzoo::cli {

void add_bench_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("bench", "throughput, latency percentiles, peak memory, params and GFLOPs of a model");
  auto m = std::make_shared<ModelArgs>();
  auto o = std::make_shared<eval::BenchOptions>();
  auto json = std::make_shared<bool>(false);
  o->img_size = -1;
  m->add_to(*cmd);
  cmd->add_option("--batch", o->batch, "batch size")->check(CLI::PositiveNumber);
  cmd->add_option("--img-size", o->img_size, "input resolution (default: pretrained config)");
  cmd->add_flag("--train", o->train, "time forward + backward + update instead of inference");
  cmd->add_option("--dtype", o->dtype, "float32|float64|bfloat16")->check(CLI::IsMember({"float32", "float64", "bfloat16"}));
  cmd->add_option("--warmup", o->warmup, "untimed iterations");
  cmd->add_option("--iters", o->iters, "timed iterations")->check(CLI::PositiveNumber);
  cmd->add_option("--device", o->device, "cpu or cuda[:N]");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([&action, m, o, json] {
    action = [m, o, json] {
      auto model = m->build();
      eval::BenchOptions opts = *o;
      if (opts.img_size <= 0) opts.img_size = model->pretrained_cfg().input_size[1];
      opts.in_chans = models::registry().resolve_args(m->name, m->overrides()).value("in_chans", int64_t{3});
      auto r = eval::benchmark(*model, opts);
      nlohmann::json j = r.to_json();
      j["model"] = m->name;
      j["batch"] = opts.batch;
      j["img_size"] = opts.img_size;
      j["mode"] = opts.train ? "train" : "infer";
      j["dtype"] = opts.dtype;
      j["threads"] = at::get_num_threads();
      if (*json) {
        std::cout << j.dump(1) << "\n";
      } else {
        std::printf("%s %s bs%ld %ldpx %s, %d threads: %.1f img/s, latency p50 %.1f ms p90 %.1f ms p99 %.1f ms, peak RSS %.0f MiB, "
                    "%.2f M params, %.3f GMACs (%.3f GFLOPs) per image\n",
                    m->name.c_str(), opts.train ? "train" : "infer", long(opts.batch), long(opts.img_size), opts.dtype.c_str(),
                    at::get_num_threads(), r.images_per_second, r.latency_ms_p50, r.latency_ms_p90, r.latency_ms_p99,
                    r.peak_memory_bytes / 1048576.0, r.param_count / 1e6, r.gmacs, r.gflops);
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
