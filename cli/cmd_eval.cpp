#include "commands.h"
#include "eval_args.h"

#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/eval/evaluate.h>
#include <attnzoo/eval/load.h>
#include <attnzoo/eval/predict.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/models/features.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/train/lra.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <unistd.h>

namespace attnzoo::cli {
namespace {

// A checkpoint of 'train --task lra-*': evaluated on its task's split (--data replaces the recorded folder).
int run_lra_eval(const EvalArgs& a) {
  train::LRAEvalResult r;
  try {
    r = train::evaluate_lra_checkpoint(a.checkpoint, a.split.empty() ? "test" : a.split, a.dataset, 0, a.device);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (a.json) {
    std::cout << nlohmann::json{{"task", r.task}, {"accuracy", r.accuracy}, {"count", r.count}, {"data", r.data},
                                {"seconds", r.seconds}}.dump(1)
              << "\n";
  } else {
    std::printf("%s on %s: accuracy %.3f (%ld sequences, %.1f s)\n", r.task.c_str(), r.data.c_str(), r.accuracy,
                long(r.count), r.seconds);
  }
  return 0;
}

bool is_lra_checkpoint(const std::string& path) {
  return checkpoint::RunCheckpoint::peek(path, checkpoint::kLraRun).is_object();
}

// Every sample once, in the dataset's order.
datasets::LoaderOptions in_order(const EvalArgs& a) {
  datasets::LoaderOptions lo;
  lo.batch_size = a.batch_size;
  lo.shuffle = false;
  lo.drop_last = false;
  lo.workers = a.workers;
  return lo;
}

// "eval: 12 / 79 batches, 1843 img/s": rewritten in place on a terminal, a line every 10 s otherwise (logs, CI).
class EvalProgress {
 public:
  explicit EvalProgress(int64_t batch_size) : batch_size_(batch_size), tty_(isatty(fileno(stderr)) != 0) {}
  void operator()(int64_t batch, int64_t total) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (!tty_ && batch < total && s - last_ < 10.0) return;
    last_ = s;
    std::fprintf(stderr, "%seval: %ld / %ld batches, %.0f img/s, %.1f s%s", tty_ ? "\r" : "", long(batch), long(total),
                 batch * batch_size_ / std::max(s, 1e-9), s, tty_ && batch < total ? "" : "\n");
  }

 private:
  int64_t batch_size_;
  bool tty_;
  double last_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// One model on the data: timm validate.py's result (and its results-CSV row when asked).
// `row_name`: the results-CSV row's model column (default: the model's name; a checkpoint sweep adds the file).
nlohmann::json eval_one(const EvalArgs& a, const datasets::DatasetPtr& ds, const std::string& row_name = "") {
  eval::EvalModel p = prepare(a, static_cast<int64_t>(ds->classes().size()));
  datasets::Loader loader(ds, datasets::Transform(p.transform, false), in_order(a));
  EvalProgress progress(a.batch_size);
  auto r = eval::evaluate(*p.model, loader, at::Device(a.device), std::ref(progress));
  int64_t params = 0;
  for (const auto& t : p.model->parameters()) params += t.numel();
  nlohmann::json j = {{"model", p.name},       {"top1", r.top1},           {"top1_err", 100 - r.top1},
                      {"top5", r.top5},         {"top5_err", 100 - r.top5}, {"loss", r.loss},
                      {"param_count", params},  {"img_size", p.transform.img_size}, {"crop_pct", p.transform.crop_pct},
                      {"interpolation", p.transform.interpolation}, {"count", r.count},
                      {"images_per_second", r.images_per_second()}, {"data", ds->describe()}};
  if (!a.checkpoint.empty()) j["checkpoint"] = a.checkpoint;
  if (!a.results_csv.empty()) {
    const bool fresh = !std::filesystem::exists(a.results_csv);
    std::ofstream csv(a.results_csv, std::ios::app);
    if (!csv) throw std::runtime_error(a.results_csv + ": cannot write");
    if (fresh) csv << "model,top1,top1_err,top5,top5_err,param_count,img_size,crop_pct,interpolation\n";
    csv << (row_name.empty() ? p.name : row_name) << "," << r.top1 << "," << 100 - r.top1 << "," << r.top5 << "," << 100 - r.top5 << ","
        << params / 1e6 << "," << p.transform.img_size << "," << p.transform.crop_pct << "," << p.transform.interpolation
        << "\n";
  }
  return j;
}

void print_eval(const nlohmann::json& j) {
  std::printf("%s on %s: top1 %.3f  top5 %.3f  loss %.4f  (%ld images, %.0f img/s)\n", j["model"].get<std::string>().c_str(),
              j["data"].get<std::string>().c_str(), j["top1"].get<double>(), j["top5"].get<double>(), j["loss"].get<double>(),
              long(j["count"].get<int64_t>()), j["images_per_second"].get<double>());
}

// timm validate.py's sweep: every model of --model-list or of a wildcard --model, each with its released
// weights (--pretrained) or as built; a model that fails is reported and the others still run (exit 1).
int run_eval_sweep(const EvalArgs& args, const std::vector<std::string>& names) {
  if (!args.checkpoints.empty()) throw UsageError("--checkpoint names one model's weights: not with a model sweep (use --pretrained)");
  const datasets::DatasetPtr ds = open_eval_data(args);
  nlohmann::json all = nlohmann::json::array();
  int failed = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    EvalArgs one = args;
    one.model.name = names[i];
    std::fprintf(stderr, "eval %zu / %zu: %s\n", i + 1, names.size(), names[i].c_str());
    try {
      const nlohmann::json j = eval_one(resolve_pretrained(one), ds);
      if (args.json) all.push_back(j);
      else print_eval(j);
    } catch (const std::exception& e) {
      ++failed;
      std::fprintf(stderr, "attnzoo: %s: %s\n", names[i].c_str(), e.what());
      if (args.json) all.push_back({{"model", names[i]}, {"error", e.what()}});
    }
  }
  if (args.json) std::cout << all.dump(1) << "\n";
  return failed > 0 ? 1 : 0;
}

// Several --checkpoint flags: each evaluated with the same model flags and data, one row each (a failing one is
// reported and the others still run, exit 1), into one --results-csv.
int run_checkpoint_sweep(const EvalArgs& args) {
  if (args.pretrained.pretrained) throw UsageError("--pretrained: not with several --checkpoint");
  const datasets::DatasetPtr ds = open_eval_data(args);
  nlohmann::json all = nlohmann::json::array();
  int failed = 0;
  for (size_t i = 0; i < args.checkpoints.size(); ++i) {
    EvalArgs one = args;
    one.checkpoints = {args.checkpoints[i]};
    std::fprintf(stderr, "eval %zu / %zu: %s\n", i + 1, args.checkpoints.size(), args.checkpoints[i].c_str());
    try {
      const EvalArgs a = resolve_pretrained(one);
      const std::string name = a.model.name.empty() ? "" : a.model.name;
      const nlohmann::json j =
          eval_one(a, ds, (name.empty() ? std::string() : name + "@") + std::filesystem::path(args.checkpoints[i]).filename().string());
      if (args.json) all.push_back(j);
      else print_eval(j);
    } catch (const std::exception& e) {
      ++failed;
      std::fprintf(stderr, "attnzoo: %s: %s\n", args.checkpoints[i].c_str(), e.what());
      if (args.json) all.push_back({{"checkpoint", args.checkpoints[i]}, {"error", e.what()}});
    }
  }
  if (args.json) std::cout << all.dump(1) << "\n";
  return failed > 0 ? 1 : 0;
}

int run_eval(const EvalArgs& args) {
  if (args.checkpoints.size() > 1) return run_checkpoint_sweep(args);
  if (!args.model_list.empty() || args.model.name.find_first_of("*?") != std::string::npos)
    return run_eval_sweep(args, model_names(args.model.name, args.model_list));
  const EvalArgs a = resolve_pretrained(args);
  if (is_lra_checkpoint(a.checkpoint)) return run_lra_eval(a);
  const nlohmann::json j = eval_one(a, open_eval_data(a));
  if (a.json)
    std::cout << j.dump(1) << "\n";
  else
    print_eval(j);
  return 0;
}

int run_predict(const EvalArgs& args) {
  const EvalArgs a = resolve_pretrained(args);
  std::vector<std::string> files;
  try {
    files = datasets::list_image_files(a.images);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  eval::EvalModel p = prepare(a, -1);
  const bool many = files.size() > static_cast<size_t>(a.batch_size);
  const auto preds = eval::predict_files(p, files, a.topk, a.batch_size, a.device, [&](size_t done) {
    if (many) std::fprintf(stderr, "\rpredict: %zu / %zu images", done, files.size());
  });
  if (many) std::fprintf(stderr, "\n");
  if (!a.output.empty()) {
    eval::write_predictions(a.output, preds);
    std::printf("wrote %s: top-%d of %zu images (%s)\n", a.output.c_str(), a.topk, preds.size(), p.name.c_str());
  } else if (a.json) {
    std::cout << eval::predictions_json(preds).dump(1) << "\n";
  } else {
    for (const auto& pr : preds) {
      std::cout << pr.file << "\n";
      for (size_t k = 0; k < pr.index.size(); ++k) std::printf("  %-20s %.4f\n", pr.label[k].c_str(), pr.prob[k]);
    }
  }
  return 0;
}

// One row per image of `layer`: "pre_logits" (pooled features before the classifier), "logits", or
// "stage<N>" (stage N's map, averaged over its positions; N < 0 counts from the last stage).
at::Tensor layer_rows(models::ClassifierImpl& model, const at::Tensor& x, const std::string& layer) {
  if (layer == "pre_logits") return model.forward_head(model.forward_features(x), /*pre_logits=*/true);
  if (layer == "logits") return model.forward(x);
  const int64_t stage = std::stoll(layer.substr(5));
  const auto only = models::IntermediatesOptions().indices({stage}).stop_early(true).intermediates_only(true);
  return models::forward_intermediates(model, x, only).intermediates[0].mean({2, 3});
}

void check_layer(const std::string& layer, int64_t stages) {
  if (layer == "pre_logits" || layer == "logits") return;
  const bool stage_form = layer.rfind("stage", 0) == 0 && layer.size() > 5 &&
                          layer.find_first_not_of("-0123456789", 5) == std::string::npos;
  try {
    if (stage_form) {
      models::feature_take_indices(stages, {std::stoll(layer.substr(5))});
      return;
    }
  } catch (const std::exception& e) {
    throw UsageError("--layer " + layer + ": " + e.what());
  }
  throw UsageError("--layer " + layer + ": expected pre_logits, logits or stage<N> (0.." + std::to_string(stages - 1) + ")");
}

int run_extract(const EvalArgs& args) {
  const EvalArgs a = resolve_pretrained(args);
  const datasets::DatasetPtr ds = open_eval_data(a);
  eval::EvalModel p = prepare(a, static_cast<int64_t>(ds->classes().size()));
  check_layer(a.layer, static_cast<int64_t>(p.model->feature_info().size()));
  datasets::Loader loader(ds, datasets::Transform(p.transform, false), in_order(a));
  loader.start_epoch(0);
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> rows, labels;
  int64_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  while (auto batch = loader.next()) {
    rows.push_back(layer_rows(*p.model, batch->images.to(at::Device(a.device)), a.layer).to(at::kCPU, at::kFloat));
    labels.push_back(batch->labels);
    done += batch->images.size(0);
    std::fprintf(stderr, "\rextract: %ld / %zu images, %.0f img/s", long(done), ds->size(), done / std::max(seconds(), 1e-9));
  }
  std::fprintf(stderr, "\n");
  checkpoint::TensorDict out;
  out.insert("features", at::cat(rows));
  out.insert("labels", at::cat(labels));
  nlohmann::json files = nlohmann::json::array();
  for (size_t i = 0; i < ds->size(); ++i) files.push_back(ds->item_name(i));
  checkpoint::write_safetensors(a.output, out,
                                {{"model", p.name},
                                 {"layer", a.layer},
                                 {"data", ds->describe()},
                                 {"classes", nlohmann::json(ds->classes()).dump()},
                                 {"files", files.dump()}});
  std::printf("wrote %s: features [%ld, %ld] (%s of %s), labels, files (%.1f s)\n", a.output.c_str(),
              long(out["features"].size(0)), long(out["features"].size(1)), a.layer.c_str(), p.name.c_str(), seconds());
  return 0;
}

}  // namespace

void add_eval_commands(CLI::App& app, Action& action) {
  auto* ev = app.add_subcommand("eval", "evaluate a checkpoint: top-1/top-5/loss, images/s, timm results CSV");
  auto a = std::make_shared<EvalArgs>();
  add_eval_model_flags(ev, *a);
  ev->add_option("--data,--dataset", a->dataset, "fashion-mnist (default), mnist:DIR, cifar10:DIR, folder:DIR or a folder; LRA checkpoints: the task's data (default: as recorded)");
  ev->add_option("--split", a->split, "split to evaluate (default test; val for folders that have it)");
  ev->add_option("--class-map", a->class_map, "ImageFolder class order file");
  ev->add_option("--batch-size", a->batch_size, "batch size")->check(CLI::PositiveNumber);
  ev->add_option("--workers", a->workers, "loader threads")->check(CLI::Range(1, 256));
  ev->add_option("--results-csv", a->results_csv, "append a row in timm's results columns");
  ev->add_option("--model-list", a->model_list, "evaluate every model named in this file (one per line; --model may also be a "
                                               "wildcard 'van_b*'), e.g. with --pretrained and --results-csv")
      ->check(CLI::ExistingFile);
  ev->add_flag("--json", a->json, "machine-readable output");
  group_eval_flags(ev);
  ev->callback([&action, a] { action = [a] { return run_eval(*a); }; });

  auto* pr = app.add_subcommand("predict", "top-k classes with probabilities for image files");
  auto b = std::make_shared<EvalArgs>();
  add_eval_model_flags(pr, *b);
  pr->add_option("images", b->images, "image files and/or folders (searched recursively for .jpg .jpeg .png .bmp .webp)")
      ->required();
  pr->add_option("--topk", b->topk, "classes to show")->check(CLI::PositiveNumber);
  pr->add_option("--batch-size", b->batch_size, "images per forward pass")->check(CLI::PositiveNumber);
  pr->add_option("--output", b->output, "write the predictions to a .csv (filename, index_i, label_i, prob_i) or .json file");
  pr->add_flag("--json", b->json, "machine-readable output on stdout");
  group_eval_flags(pr);
  pr->callback([&action, b] { action = [b] { return run_predict(*b); }; });

  auto* ex = app.add_subcommand("extract", "one feature row per image of a dataset (linear probes, retrieval) into safetensors");
  auto c = std::make_shared<EvalArgs>();
  add_eval_model_flags(ex, *c);
  ex->add_option("--data,--dataset", c->dataset, "fashion-mnist (default), mnist:DIR, cifar10:DIR, folder:DIR or a folder");
  ex->add_option("--split", c->split, "split to read (default test)");
  ex->add_option("--class-map", c->class_map, "ImageFolder class order file");
  ex->add_option("--layer", c->layer, "pre_logits (default: pooled features), logits, or stage<N> (stage N's map averaged over positions)");
  ex->add_option("--output", c->output, "safetensors file: features [N, D], labels [N]; metadata: files, classes, model, layer")->required();
  ex->add_option("--batch-size", c->batch_size, "batch size")->check(CLI::PositiveNumber);
  ex->add_option("--workers", c->workers, "loader threads")->check(CLI::Range(1, 256));
  group_eval_flags(ex);
  ex->callback([&action, c] { action = [c] { return run_extract(*c); }; });
}

}  // namespace attnzoo::cli
