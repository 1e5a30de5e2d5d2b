#include "commands.h"
#include "default_recipe.h"

#include <attnzoo/core/config.h>
#include <attnzoo/train/distributed.h>
#include <attnzoo/train/lra.h>
#include <attnzoo/train/trainer.h>

#include "launch.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

namespace attnzoo::cli {
namespace {

// Every train flag; its value is parsed like a YAML scalar/list, so the CLI and recipes share one parser.
struct Flag {
  const char* name;
  int nargs;  // 0 = boolean flag, -1 = one or more values
  const char* help;
  const char* aliases = "";  // other names timm users type, e.g. "-b" or "--smoothing"
};
const Flag kFlags[] = {
    {"model", 1, "variant or family (default: the Fashion-MNIST recipe's van_b0 configuration)"},
    {"num-classes", 1, "classifier outputs (default: the dataset's class count)"},
    {"in-chans", 1, "input channels (1 keeps gray images gray)"},
    {"img-size", 1, "training/eval resolution (default: the variant's pretrained input size)"},
    {"drop-path", 1, "stochastic depth rate"},
    {"initial-checkpoint", 1, "fine-tune from these weights (head dropped if classes differ, stem adapted)"},
    {"checkpoint-key", 1, "entry of --initial-checkpoint holding the weights"},
    {"pretrained", 0, "start from the authors' released weights of --model (looked up in the checkpoint folders)"},
    {"download", 0, "with --pretrained: download the weights when no local copy exists"},
    {"dataset", 1, "fashion-mnist (default), mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR or a folder"},
    {"data", 1, "alias of --dataset"},
    {"train-split", 1, "split folder/name used for training (train)"},
    {"val-split", 1, "split used for evaluation (val, else test)"},
    {"class-map", 1, "file with one class name per line (ImageFolder class order)"},
    {"workers", 1, "data loader threads", "-j"},
    {"on-bad-image", 1, "skip|error: what an unreadable image does"},
    {"interpolation", 1, "bilinear|bicubic|nearest|area"},
    {"crop-pct", 1, "eval center-crop fraction"},
    {"mean", 3, "normalisation mean (3 values)"},
    {"std", 3, "normalisation std (3 values)"},
    {"no-rrc", 0, "resize (+ --pad-crop) instead of RandomResizedCrop"},
    {"scale", 2, "RandomResizedCrop area range (0.08 1.0)"},
    {"ratio", 2, "RandomResizedCrop aspect range (0.75 1.333)"},
    {"pad-crop", 1, "pad by N pixels and random-crop back (with --no-rrc)"},
    {"hflip", 1, "horizontal flip probability"},
    {"aa", 1, "RandAugment policy, e.g. rand-m9-mstd0.5-inc1"},
    {"reprob", 1, "random erasing probability"},
    {"mixup", 1, "mixup alpha (0 = off)"},
    {"cutmix", 1, "cutmix alpha (0 = off)"},
    {"mixup-prob", 1, "probability of mixing a batch"},
    {"mixup-switch-prob", 1, "probability of cutmix when both are on"},
    {"label-smoothing", 1, "label smoothing", "--smoothing"},
    {"epochs", 1, "epochs"},
    {"batch-size", 1, "batch size per process", "-b"},
    {"opt", 1, "adamw|sgd|lamb"},
    {"lr", 1, "learning rate (overrides --lr-base)"},
    {"lr-base", 1, "learning rate at global batch --lr-base-size (timm: lr = lr_base * ratio, sqrt for adam*/lamb)"},
    {"lr-base-size", 1, "global batch of --lr-base (default 256, timm's)"},
    {"lr-base-scale", 1, "sqrt|linear scaling of --lr-base (default: sqrt for adam*/lamb, linear for sgd)"},
    {"weight-decay", 1, "weight decay (not on norms, biases, no_weight_decay names)"},
    {"momentum", 1, "SGD momentum"},
    {"layer-decay", 1, "layer-wise lr decay: layer i of L trains at lr x decay^(L-1-i) (timm's; layers from the family's group matcher)"},
    {"warmup-epochs", 1, "linear warmup length in epochs (per-step)"},
    {"warmup-lr", 1, "learning rate at step 0"},
    {"min-lr", 1, "cosine floor"},
    {"sched", 1, "lr schedule after the warmup: cosine (default), step, multistep, plateau or none (timm's --sched)"},
    {"decay-epochs", 1, "step: epochs between lr decays (90)"},
    {"decay-milestones", -1, "multistep: epochs at which the lr decays (90 180 270)"},
    {"decay-rate", 1, "step / multistep / plateau: lr decay factor (0.1)", "--dr"},
    {"patience-epochs", 1, "plateau: epochs without a better --eval-metric before the lr decays (10)"},
    {"cooldown-epochs", 1, "cosine: epochs at --min-lr appended after --epochs (0)"},
    {"clip-grad", 1, "clip the global gradient norm (0 = off)"},
    {"grad-accum-steps", 1, "sum the gradients of N batches into one update (the lr schedule still counts batches)"},
    {"model-ema", 0, "keep an EMA of the weights (evaluated and checkpointed too)"},
    {"model-ema-decay", 1, "EMA decay"},
    {"seed", 1, "random seed (data order, augmentation, init)"},
    {"output", 1, "the run's folder, exactly (default: output/train/<YYYYMMDD-HHMMSS>-<model>-<img_size>)"},
    {"experiment", 1, "name the run's folder output/train/NAME instead of the generated name"},
    {"overwrite", 0, "replace the run already in the output folder (a second run there is refused otherwise)"},
    {"resume", 1, "continue a run exactly from its last.safetensors"},
    {"device", 1, "cpu or cuda[:N]"},
    {"channels-last", 0, "NHWC memory format for conv weights and inputs (faster on GPUs)"},
    {"amp", 1, "mixed precision: bf16 (CPU/CUDA autocast) or fp16 (CUDA, dynamic loss scaling); default off"},
    {"checkpoint-hist", 1, "keep checkpoint-<epoch>.safetensors of the N best epochs (0: only last and best)"},
    {"eval-metric", 1, "what makes an epoch the best: top1 (default), top5 or loss"},
    {"checkpoint-every", 1, "also checkpoint every N updates (recovery)"},
    {"log-interval", 1, "log.jsonl step line every N updates"},
    {"max-steps-per-epoch", 1, "truncate epochs (smoke tests)"},
    {"task", 1, "lra-listops|lra-text|lra-retrieval|lra-image|lra-pathfinder: train an lra_encoder on a Long Range Arena task (--model lra_tiny ...)"},
    {"steps", 1, "LRA tasks: training steps"},
    {"eval-every", 1, "LRA tasks: evaluate on the validation split every N steps"},
    {"warmup-steps", 1, "LRA tasks: linear warmup steps of the LRA rsqrt schedule"},
    {"max-len", 1, "LRA tasks: truncate sequences to this length"},
    {"schedule", 1, "LRA tasks: rsqrt (LRA ListOps/Text/Retrieval) or cosine (LRA Image/Pathfinder)"},
    {"opt-eps", 1, "LRA tasks: Adam epsilon (1e-9 as LRA)"},
    {"max-eval", 1, "LRA tasks: evaluate on the first N validation / test examples (0: all)"},
    {"dist-timeout", 1, "data parallel: seconds a collective waits for the other ranks (1800)"},
    {"dist-init-timeout", 1, "data parallel: seconds the rendezvous waits for every rank to arrive (300)"},
    {"dist-verify", 0, "data parallel: check the replicas' weights are bit-identical after every update"},
    {"sync-bn", 0, "data parallel: BatchNorm layers use the statistics of the global batch (torch's SyncBatchNorm)"},
};

struct TrainArgs {
  std::string recipe;
  std::vector<std::string> sets;
  std::map<std::string, std::vector<std::string>> values;
  std::map<std::string, bool> flags;
  std::map<std::string, CLI::Option*> opts;
  int nproc = 1;
};

nlohmann::json parse_value(const std::string& raw, const std::string& flag) {
  return yaml_to_json(raw, "--" + flag);
}

// Every given train flag as a JSON mapping (values parsed like YAML scalars), merged over the recipe.
nlohmann::json flags_json(const TrainArgs& a) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kFlags) {
    CLI::Option* o = a.opts.at(f.name);
    if (!o->count()) continue;
    if (f.nargs == 0) {
      j[f.name] = true;
    } else if (f.nargs == 1) {
      j[f.name] = parse_value(a.values.at(f.name).at(0), f.name);
    } else {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& v : a.values.at(f.name)) arr.push_back(parse_value(v, f.name));
      j[f.name] = arr;
    }
  }
  if (!a.sets.empty()) j["model_args"] = apply_overrides(nlohmann::json::object(), a.sets);
  return j;
}

// --task lra-* (flag or recipe key): the sequence trainer.
int run_lra(const TrainArgs& a, const nlohmann::json& recipe, const train::DistEnv& env) {
  train::LRATrainConfig c;
  try {
    if (!recipe.is_null()) c.apply_json(recipe, a.recipe);
    c.apply_json(flags_json(a), "flags");
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  c.rank = env.rank;
  c.world_size = env.world_size;
  c.device = env.device_for(c.device);
  if (env.world_size > 1) std::cerr << "attnzoo train: " << env.describe() << ", device " << c.device << "\n";
  if (env.rank == 0 && !a.recipe.empty()) std::cerr << "attnzoo train: recipe " << a.recipe << "\n";
  const auto r = train::run_lra_training(c);
  if (env.rank != 0) return 0;
  std::printf("done in %.1f s: %s val acc %.2f test acc %.2f (%ld steps, %.0f tokens/s, %ld params); %s/result.json\n",
              r.seconds, c.task.c_str(), r.val_accuracy, r.test_accuracy, long(r.steps), r.tokens_per_second,
              long(r.params), c.output.c_str());
  return 0;
}

int run_train(const TrainArgs& a) {
  // --nproc N: become the launcher of N workers running this same command (without --nproc).
  const train::DistEnv env = train::DistEnv::from_env();
  if (a.nproc > 1 && env.world_size == 1) {
    std::vector<std::string> argv;
    const auto own = own_command_line();
    for (size_t i = 0; i < own.size(); ++i) {
      if (own[i] == "--nproc") {
        ++i;
        continue;
      }
      if (own[i].rfind("--nproc=", 0) == 0) continue;
      argv.push_back(own[i]);
    }
    return launch_local_workers(a.nproc, argv);
  }
  const nlohmann::json recipe = a.recipe.empty() ? nlohmann::json() : read_config_file(a.recipe);
  if (a.opts.at("task")->count() || (recipe.is_object() && recipe.contains("task"))) return run_lra(a, recipe, env);
  for (const char* f : {"steps", "eval-every", "warmup-steps", "max-len", "max-eval", "opt-eps", "schedule"})
    if (a.opts.at(f)->count()) throw UsageError(std::string("--") + f + " applies to --task lra-* only");
  train::TrainConfig cfg;
  const bool use_default = a.recipe.empty() && !a.opts.at("model")->count();
  if (use_default) {
    cfg.apply_json(yaml_to_json(kDefaultRecipe, kDefaultRecipeName), kDefaultRecipeName);
  } else if (!a.recipe.empty()) {
    if (recipe.empty()) throw UsageError(a.recipe + ": the recipe is empty (expected flag: value lines, e.g. model: van_b0)");
    cfg.apply_json(recipe, a.recipe);
    if (!recipe.contains("model") && !a.opts.at("model")->count())
      throw UsageError(a.recipe + ": no model (add a 'model:' key or pass --model)");
  }
  const nlohmann::json j = flags_json(a);
  try {
    cfg.apply_json(j, "flags");
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  cfg.rank = env.rank;  // torchrun environment (or --nproc's workers)
  cfg.world_size = env.world_size;
  cfg.device = env.device_for(cfg.device);
  if (env.world_size > 1) std::cerr << "attnzoo train: " << env.describe() << ", device " << cfg.device << "\n";
  if (use_default && env.rank == 0) std::cerr << "attnzoo train: using the built-in recipe " << kDefaultRecipeName << "\n";
  auto r = train::run_training(cfg);
  if (env.rank != 0) return 0;
  char line[512];
  std::snprintf(line, sizeof line,
                "done in %.1f s: final eval top1 %.2f top5 %.2f loss %.4f; best top1 %.2f (epoch %ld); checkpoints %s, %s",
                r.seconds, r.final_top1, r.final_top5, r.final_loss, r.best_top1, long(r.best_epoch),
                r.last_checkpoint.c_str(), r.best_checkpoint.c_str());
  std::cout << line << "\n";
  return 0;
}

// --help sections, as timm's train.py groups its arguments: each starts at its first flag in kFlags.
struct FlagGroup {
  const char* first;
  const char* title;
};
constexpr FlagGroup kFlagGroups[] = {
    {"model", "Model"},
    {"dataset", "Dataset"},
    {"interpolation", "Augmentation and regularization"},
    {"epochs", "Optimizer"},
    {"warmup-epochs", "Learning rate schedule"},
    {"clip-grad", "Gradients and EMA"},
    {"seed", "Run, output and checkpoints"},
    {"task", "Long Range Arena (--task lra-*)"},
    {"dist-timeout", "Data parallel (--nproc or torchrun)"},
};

// The value's type and default in --help, from the defaults of the config the flag sets (image training, or
// LRA training for the LRA-only flags); sentinel defaults (-1, "", 0 = "from the model / data") are not shown.
void describe_value(CLI::Option* o, const std::string& flag) {
  static const nlohmann::json image = train::TrainConfig{}.to_json();
  static const nlohmann::json lra = train::LRATrainConfig{}.to_json();
  std::string key = flag;
  for (auto& c : key)
    if (c == '-') c = '_';
  if (key == "label_smoothing") key = "smoothing";
  const nlohmann::json* d = image.contains(key) ? &image.at(key) : lra.contains(key) ? &lra.at(key) : nullptr;
  if (!d) return;
  if (d->is_array()) {
    o->type_name(d->empty() || d->at(0).is_number_integer() ? "INT ..." : "FLOAT ...");
  } else if (d->is_number_integer()) {
    o->type_name("INT");
  } else if (d->is_number()) {
    o->type_name("FLOAT");
  } else if (d->is_string()) {
    o->type_name("TEXT");
  }
  // --model's default is the built-in recipe's model; --lr 0 means "from --lr-base" (both said in the help text).
  const bool sentinel = flag == "model" || flag == "lr" || d->is_null() || (d->is_number() && d->get<double>() == -1) || (d->is_string() && d->get<std::string>().empty()) ||
                        (d->is_array() && !d->empty() && d->at(0).is_number() && d->at(0).get<double>() == -1);
  if (sentinel) return;
  auto show = [](const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (!v.is_number_float()) return v.dump();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v.get<double>());
    return std::string(buf);
  };
  std::string text;
  if (d->is_array()) {
    for (const auto& v : *d) text += (text.empty() ? "" : " ") + show(v);
  } else {
    text = show(*d);
  }
  o->default_str(text);
}

}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "train a backbone (no flags: the Fashion-MNIST main job)");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("--config", a->recipe, "YAML/JSON recipe whose keys are these flag names (flags override it)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", a->sets, "override one official model constructor argument: key=value")->take_all();
  cmd->add_option("--nproc", a->nproc,
                  "data parallel: run N local worker processes (torchrun-style env; gradients averaged with c10d Gloo)")
      ->check(CLI::Range(1, 256));
  const char* group = "Model";
  for (const auto& f : kFlags) {
    for (const auto& g : kFlagGroups)
      if (std::string(g.first) == f.name) group = g.title;
    const std::string name = (*f.aliases ? std::string(f.aliases) + "," : std::string()) + "--" + f.name;
    CLI::Option* o = f.nargs == 0 ? cmd->add_flag(name, a->flags[f.name], f.help)
                                  : cmd->add_option(name, a->values[f.name], f.help)->expected(f.nargs);
    o->group(group);
    if (f.nargs != 0) describe_value(o, f.name);
    a->opts[f.name] = o;
  }
  cmd->callback([&action, a] { action = [a] { return run_train(*a); }; });
}

}  // namespace attnzoo::cli
