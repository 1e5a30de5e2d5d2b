// attnzoo export: weights back to Python. A plain state dict with the official key names (no prefixes, no
// training state) that the official class's or timm's load_state_dict(strict=True) accepts unchanged.
#include "commands.h"
#include "model_args.h"

#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/eval/load.h>
#include <attnzoo/models/load.h>

#include <torch/torch.h>

#include <iostream>

namespace attnzoo::cli {
namespace {

struct ExportArgs {
  ModelArgs model;
  PretrainedArgs pretrained;
  std::string source, to, checkpoint_key, layout = "official";
  bool ema = false;
  uint64_t seed = 0;
};

// The model (or EMA) weights of an attnzoo training checkpoint (image or LRA run); empty when `path` is none.
checkpoint::TensorDict run_checkpoint_weights(const std::string& path, bool ema) {
  for (const char* kind : {checkpoint::kImageRun, checkpoint::kLraRun}) {
    if (!checkpoint::RunCheckpoint::peek(path, kind).is_object()) continue;
    auto ck = checkpoint::RunCheckpoint::load(path, kind);
    if (!ema) return ck.model;
    if (ck.ema.is_empty()) throw UsageError(path + ": --ema: this run kept no EMA weights (train with --model-ema)");
    return ck.ema;
  }
  return checkpoint::TensorDict();
}

// The model named by --model with any weights file loaded (every key and shape checked), or its
// initialisation under --seed when there is none.
models::ClassifierPtr model_with_weights(const ExportArgs& a) {
  torch::manual_seed(a.seed);
  auto model = a.model.build();
  if (!a.source.empty()) {
    models::LoadOptions lo;
    lo.checkpoint_key = a.ema && a.checkpoint_key.empty() ? "state_dict_ema" : a.checkpoint_key;
    models::load_weights(*model, a.source, lo);
  }
  return model;
}

int run_export(const ExportArgs& args) {
  ExportArgs a = args;
  if (a.pretrained.pretrained) a.source = a.pretrained.resolve(a.model.name);  // e.g. a release .pth -> safetensors
  checkpoint::TensorDict tensors;
  models::ClassifierPtr model;  // what knows the family's other layouts
  if (a.model.name.empty()) {
    if (a.source.empty()) throw UsageError("export: give a training CHECKPOINT, or --model NAME (with or without weights)");
    tensors = run_checkpoint_weights(a.source, a.ema);
    if (tensors.is_empty())
      throw UsageError(a.source + ": not an attnzoo training checkpoint; add --model NAME to export other weights through the model");
    if (a.layout != "official") {
      eval::EvalModelRequest request;
      request.checkpoint = a.source;
      model = eval::load_eval_model(request).model;
    }
  } else {
    model = model_with_weights(a);
    tensors = checkpoint::state_dict(*model);
  }
  if (model) {
    try {
      tensors = model->to_layout(std::move(tensors), a.layout);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--layout ") + e.what());
    }
  }
  checkpoint::write_weights(a.to, tensors);
  int64_t numel = 0;
  for (const auto& item : tensors) numel += item.value().numel();
  std::cout << "wrote " << tensors.size() << " tensors (" << numel << " values) to " << a.to << "\n";
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("export", "write a clean state dict (official keys) for PyTorch: .safetensors or .pth");
  auto a = std::make_shared<ExportArgs>();
  cmd->add_option("checkpoint", a->source, "attnzoo training checkpoint, or (with --model) any weights file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--to", a->to, "output file: .safetensors, .pth, .pt or .bin")->required();
  cmd->add_flag("--ema", a->ema, "export the EMA weights of the checkpoint");
  cmd->add_option("--layout", a->layout, "key names: official (the authors' code) or timm (timm's class, where it differs)")
      ->check(CLI::IsMember({"official", "timm"}));
  cmd->add_option("--model", a->model.name, "build this variant and export its weights (random init without a checkpoint)");
  cmd->add_option("--config", a->model.config, "JSON/YAML object of official constructor arguments")->check(CLI::ExistingFile);
  cmd->add_option("--set", a->model.sets, "override one constructor argument: key=value")->take_all();
  cmd->add_option("--checkpoint-key", a->checkpoint_key, "entry of the checkpoint dict holding the weights (with --model)");
  a->pretrained.add_to(*cmd, "checkpoint");
  cmd->add_option("--seed", a->seed, "initialisation seed when --model has no checkpoint (default 0)");
  cmd->callback([&action, a] { action = [a] { return run_export(*a); }; });
}

}  // namespace attnzoo::cli
