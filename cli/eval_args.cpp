#include "eval_args.h"

namespace attnzoo::cli {

eval::EvalModel prepare(const EvalArgs& a, int64_t data_classes) {
  eval::EvalModelRequest r;
  r.model = a.model.name;
  r.model_args = a.model.overrides();
  r.checkpoint = a.checkpoint;
  r.checkpoint_key = a.checkpoint_key;
  r.use_ema = a.use_ema;
  r.num_classes = a.num_classes;
  r.in_chans = a.in_chans;
  r.img_size = a.img_size;
  r.data_classes = data_classes;
  r.crop_pct = a.crop_pct;
  if (a.mean.size() == 3) r.mean = std::array<double, 3>{a.mean[0], a.mean[1], a.mean[2]};
  if (a.std.size() == 3) r.std = std::array<double, 3>{a.std[0], a.std[1], a.std[2]};
  r.interpolation = a.interpolation;
  r.device = a.device;
  try {
    return eval::load_eval_model(r);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

void add_eval_model_flags(CLI::App* cmd, EvalArgs& a) {
  cmd->add_option("--model", a.model.name, "variant or family (default: the one recorded in an attnzoo checkpoint)");
  cmd->add_option("--config", a.model.config, "JSON/YAML object of official constructor arguments")->check(CLI::ExistingFile);
  cmd->add_option("--set", a.model.sets, "override one constructor argument: key=value")->take_all();
  cmd->add_option("--checkpoint", a.checkpoints, "weights: attnzoo checkpoint, safetensors or official .pth")
      ->check(CLI::ExistingFile)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);  // one file per flag, the flag repeatable
  a.pretrained.add_to(*cmd, "--checkpoint");
  cmd->add_flag("--use-ema", a.use_ema, "the checkpoint's EMA weights (state_dict_ema / model_ema) instead of its model weights");
  cmd->add_option("--checkpoint-key", a.checkpoint_key, "entry of the checkpoint dict holding the weights");
  cmd->add_option("--num-classes", a.num_classes, "classifier outputs");
  cmd->add_option("--in-chans", a.in_chans, "input channels");
  cmd->add_option("--img-size", a.img_size, "input resolution (default: pretrained config)");
  cmd->add_option("--crop-pct", a.crop_pct, "center-crop fraction (default: pretrained config)");
  cmd->add_option("--interpolation", a.interpolation, "bilinear|bicubic|nearest|area");
  cmd->add_option("--mean", a.mean, "normalisation mean")->expected(3);
  cmd->add_option("--std", a.std, "normalisation std")->expected(3);
  cmd->add_option("--device", a.device, "cpu or cuda[:N]")->check(device_validator());
}

void group_eval_flags(CLI::App* cmd) {
  static const std::vector<std::pair<const char*, std::vector<const char*>>> groups = {
      {"Model and weights", {"--model", "--config", "--set", "--checkpoint", "--pretrained", "--download", "--use-ema",
                             "--checkpoint-key", "--num-classes", "--in-chans", "--model-list"}},
      {"Input transform", {"--img-size", "--crop-pct", "--interpolation", "--mean", "--std"}},
      {"Data", {"images", "--image", "--data", "--split", "--class-map", "--index", "--num-images"}},
      {"Run", {"--device", "--batch-size", "--workers", "--topk", "--layer", "--stage", "--grad", "--query", "--list-layers"}},
      {"Output", {"--output", "--results-csv", "--json"}}};
  static const std::vector<const char*> with_default = {"--batch-size", "--workers", "--topk", "--num-images", "--stage",
                                                        "--grad", "--index", "--device"};
  for (const auto& [title, names] : groups)
    for (const char* name : names)
      if (CLI::Option* o = cmd->get_option_no_throw(name)) o->group(title);
  for (const char* name : with_default)
    if (CLI::Option* o = cmd->get_option_no_throw(name)) o->capture_default_str();
}

EvalArgs resolve_pretrained(EvalArgs a) {
  if (a.checkpoints.size() > 1)
    throw UsageError("--checkpoint: given " + std::to_string(a.checkpoints.size()) + " times; one here (eval sweeps several)");
  if (a.checkpoints.size() == 1) a.checkpoint = a.checkpoints.front();
  a.checkpoints.clear();
  if (a.pretrained.pretrained) a.checkpoint = a.pretrained.resolve(a.model.name);
  a.pretrained.pretrained = false;
  return a;
}

datasets::DatasetPtr open_eval_data(const EvalArgs& a) {
  const std::string split = a.split.empty() ? "test" : a.split;
  const std::string dataset = a.dataset.empty() ? "fashion-mnist" : a.dataset;
  try {
    return datasets::open_dataset(dataset, split, a.class_map);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--data ") + dataset + ": " + e.what());
  }
}

}  // namespace attnzoo::cli
