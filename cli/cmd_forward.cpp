#include "commands.h"
#include "model_args.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/config.h>
#include <attnzoo/models/features.h>
#include <attnzoo/models/load.h>
#include <attnzoo/modules/module_registry.h>

#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace attnzoo::cli {
namespace {

struct ForwardArgs {
  ModelArgs model;
  PretrainedArgs pretrained;
  std::string module;
  std::string weights, input, output, dtype = "float32", checkpoint_key, device = "cpu";
  std::vector<std::string> forward_args;  // NAME=VALUE, the module's non-tensor forward arguments
  bool features = false;
  bool non_strict = false;
  // timm's forward_intermediates (--intermediates and its arguments)
  bool intermediates = false;
  std::string indices;  // "0,2,-1"; empty: every stage
  models::IntermediatesOptions intermediates_options;
};

// --indices "0,2,-1" -> {0, 2, -1}.
std::vector<int64_t> parse_indices(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    const std::optional<long long> index = parse_integer(part);
    if (!index) throw UsageError("--indices " + text + ": expected stage numbers like 0,2,-1");
    out.push_back(*index);
  }
  return out;
}

// timm's `features, intermediates = model.forward_intermediates(x, ...)` as tensors named features,
// intermediates.N and prefix_tokens.N (N counts the selected stages), plus logits when every stage ran.
void write_intermediates(models::ClassifierImpl& model, const at::Tensor& x, const ForwardArgs& a,
                         checkpoint::TensorDict& out) {
  auto options = a.intermediates_options;
  try {
    options.indices(parse_indices(a.indices));
    const models::Intermediates r = models::forward_intermediates(model, x, options);
    for (size_t i = 0; i < r.intermediates.size(); ++i) out.insert("intermediates." + std::to_string(i), r.intermediates[i]);
    for (size_t i = 0; i < r.prefix_tokens.size(); ++i) out.insert("prefix_tokens." + std::to_string(i), r.prefix_tokens[i]);
    if (r.features.defined()) out.insert("features", r.features);
    if (r.features.defined() && !options.stop_early()) out.insert("logits", model.forward_head(r.features));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--intermediates: ") + e.what());
  }
}

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  throw UsageError("--dtype " + s + ": expected float32 or float64");
}

at::Tensor pick_input(const checkpoint::SafetensorsFile& f, const std::string& path) {
  if (const at::Tensor* x = f.tensors.find("x")) return *x;
  if (f.tensors.size() == 1) return f.tensors[0].value();
  std::string names;
  for (const auto& item : f.tensors) names += (names.empty() ? "" : ", ") + item.key();
  throw UsageError("--input " + path + ": no tensor named 'x' and more than one tensor (" + names + ")");
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The module's tensors from the --input file, by the names of its forward (the first also as the file's only
// tensor); floating tensors in --dtype, masks and indices as stored. Other tensors (e.g. the outputs a fixture
// file stores beside its inputs) are not read.
std::vector<at::Tensor> module_inputs(const checkpoint::SafetensorsFile& f, const modules::ModuleEntry& entry,
                                      const std::string& path, at::ScalarType dtype, const at::Device& device) {
  std::vector<at::Tensor> in;
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const at::Tensor* t = f.tensors.find(entry.inputs[i]);
    if (!t && i == 0 && f.tensors.size() == 1) t = &f.tensors[0].value();
    if (!t) {
      if (i == 0) throw UsageError("--input " + path + ": no tensor '" + entry.inputs[0] + "' (" + entry.family + "." +
                                   entry.official + " takes " + joined(entry.inputs) + ")");
      break;  // the remaining inputs are optional
    }
    in.push_back((t->is_floating_point() ? t->to(dtype) : *t).to(device));
  }
  return in;
}

// --forward-arg NAME=VALUE (VALUE as JSON, else a string) for the names the module's forward reads.
nlohmann::json module_forward_args(const std::vector<std::string>& given, const modules::ModuleEntry& entry) {
  nlohmann::json extra = nlohmann::json::object();
  for (const auto& kv : given) {
    const auto eq = kv.find('=');
    const std::string name = kv.substr(0, eq);
    if (eq == std::string::npos || name.empty()) throw UsageError("--forward-arg " + kv + ": expected NAME=VALUE");
    if (std::find(entry.forward_args.begin(), entry.forward_args.end(), name) == entry.forward_args.end())
      throw UsageError("--forward-arg " + name + ": " + entry.family + "." + entry.official + " takes " +
                       (entry.forward_args.empty() ? std::string("no forward arguments") : joined(entry.forward_args)));
    const std::string value = kv.substr(eq + 1);
    extra[name] = nlohmann::json::accept(value) ? nlohmann::json::parse(value) : nlohmann::json(value);
  }
  return extra;
}

std::string shape_text(const at::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// A model takes a batch of images: [N >= 1, C, H, W]. Checked before the forward, so the error names the
// file and the expected layout rather than whichever kernel would trip over it.
void check_image_batch(const at::Tensor& x, const models::PretrainedCfg& pc, const std::string& path) {
  const std::string expected = "expected [N, C, H, W] with N >= 1, e.g. [1, " + std::to_string(pc.input_size[0]) + ", " +
                               std::to_string(pc.input_size[1]) + ", " + std::to_string(pc.input_size[2]) + "]";
  if (x.dim() != 4 || x.size(0) < 1 || x.size(2) < 1 || x.size(3) < 1)
    throw UsageError("--input " + path + ": tensor of shape " + shape_text(x) + ", " + expected);
}

// Runs `f`; a LibTorch error inside becomes one line naming the input file and its shape.
template <class F>
auto naming_input(const at::Tensor& x, const std::string& path, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error("--input " + path + " (shape " + shape_text(x) + "): " + first_line_of(e.what_without_backtrace()));
  }
}

int run_forward(const ForwardArgs& a) {
  const at::ScalarType dtype = parse_dtype(a.dtype);
  auto input_file = checkpoint::read_safetensors(a.input);
  const at::Device device(a.device);
  checkpoint::TensorDict out;
  torch::NoGradGuard no_grad;

  if (!a.module.empty()) {
    const auto dot = a.module.find('.');
    if (dot == std::string::npos) throw UsageError("--module " + a.module + ": expected family.Class, e.g. van.LKA");
    nlohmann::json cfg = a.model.overrides();
    modules::BuiltModule m;
    const modules::ModuleEntry* entry = nullptr;
    try {
      entry = &modules::find_module(a.module.substr(0, dot), a.module.substr(dot + 1));
      m = entry->build(cfg);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--module ") + a.module + ": " + e.what());
    }
    const std::vector<at::Tensor> inputs = module_inputs(input_file, *entry, a.input, dtype, device);
    const nlohmann::json extra = module_forward_args(a.forward_args, *entry);
    m.module->to(dtype);
    m.module->eval();
    if (!a.weights.empty()) {
      auto w = checkpoint::read_weights(a.weights, a.checkpoint_key);
      checkpoint::load_state_dict(*m.module, w.tensors, !a.non_strict, a.weights);
    }
    m.module->to(device);
    auto ys = naming_input(inputs[0], a.input, [&] { return m.forward(inputs, extra); });
    for (size_t i = 0; i < ys.size(); ++i) out.insert(ys.size() == 1 ? "y" : "y." + std::to_string(i), ys[i]);
  } else {
    if (!a.forward_args.empty()) throw UsageError("--forward-arg: only with --module");
    const at::Tensor x = pick_input(input_file, a.input).to(dtype).to(device);
    auto model = a.model.build();
    model->to(dtype);
    model->eval();
    const std::string weights = a.pretrained.pretrained ? a.pretrained.resolve(a.model.name) : a.weights;
    if (!weights.empty()) {
      models::LoadOptions lo;
      lo.checkpoint_key = a.checkpoint_key;
      lo.strict = !a.non_strict;
      models::load_weights(*model, weights, lo);
    }
    model->to(device);
    check_image_batch(x, model->pretrained_cfg(), a.input);
    naming_input(x, a.input, [&] {
      if (a.intermediates) {
        write_intermediates(*model, x, a, out);
      } else if (a.features) {
        auto feats = model->forward_intermediates(x);
        // forward_features is the last stage output finished (final norm): reuse it for the logits.
        out.insert("logits", model->forward_head(model->finish_features(feats.back())));
        for (size_t i = 0; i < feats.size(); ++i) out.insert("features." + std::to_string(i), feats[i]);
      } else {
        out.insert("logits", model->forward(x));
      }
      return 0;
    });
  }
  checkpoint::TensorDict host;
  for (const auto& item : out) host.insert(item.key(), item.value().cpu());
  checkpoint::write_safetensors(a.output, host);
  for (const auto& item : host) std::cout << item.key() << " " << item.value().sizes() << "\n";
  return 0;
}

}  // namespace

void add_forward_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("forward", "run a model (or a module) on the tensor in a safetensors file");
  auto a = std::make_shared<ForwardArgs>();
  cmd->add_option("--model", a->model.name, "variant (e.g. van_b0) or family (e.g. van)");
  cmd->add_option("--module", a->module, "run one attention module instead, e.g. van.LKA (see 'list --modules')");
  cmd->add_option("--config", a->model.config, "JSON/YAML object of official constructor arguments")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", a->model.sets, "override one constructor argument: key=value")->take_all();
  cmd->add_option("--weights,--checkpoint", a->weights, "safetensors or torch.save checkpoint (any timm/official layout)")
      ->check(CLI::ExistingFile);
  a->pretrained.add_to(*cmd, "--weights");
  cmd->add_option("--checkpoint-key", a->checkpoint_key, "entry of the checkpoint dict holding the weights");
  cmd->add_flag("--non-strict", a->non_strict, "allow missing/unexpected keys");
  cmd->add_option("--input", a->input,
                  "safetensors file with the input tensor 'x' (or a single tensor); for --module, its tensors by the "
                  "forward's input names (e.g. x, mask; 'list --modules --json' names them)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output", a->output, "safetensors file to write: logits [, features.N]")->required();
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->check(device_validator());
  cmd->add_option("--dtype", a->dtype, "float32 or float64")->check(CLI::IsMember({"float32", "float64"}));
  cmd->add_option("--forward-arg", a->forward_args, "NAME=VALUE: a non-tensor forward argument of --module (e.g. H=7 W=7)")
      ->take_all();
  cmd->add_flag("--features", a->features, "also write the per-stage outputs features.0, features.1, ...");
  cmd->add_flag("--intermediates", a->intermediates,
                "write timm's forward_intermediates instead: features, intermediates.N [, prefix_tokens.N], logits");
  cmd->add_option("--indices", a->indices, "with --intermediates: stages to take, e.g. 0,2,-1 (default: all)");
  cmd->add_flag("--norm", [a](int64_t) { a->intermediates_options.norm(true); }, "with --intermediates: apply the final norm (timm's norm=True)");
  cmd->add_flag("--stop-early", [a](int64_t) { a->intermediates_options.stop_early(true); }, "with --intermediates: stop after the last index");
  cmd->add_option_function<std::string>("--output-fmt", [a](const std::string& f) { a->intermediates_options.output_fmt(f); },
                                        "with --intermediates: NCHW (default), NHWC or NLC")
      ->check(CLI::IsMember({"NCHW", "NHWC", "NLC"}));
  cmd->add_flag("--prefix-tokens", [a](int64_t) { a->intermediates_options.return_prefix_tokens(true); },
                "with --intermediates: also write each intermediate's prefix (class) tokens");
  cmd->add_flag("--intermediates-only", [a](int64_t) { a->intermediates_options.intermediates_only(true); },
                "with --intermediates: skip what follows the last stage (no features, no logits)");
  cmd->callback([&action, a] {
    if (a->model.name.empty() == a->module.empty()) throw CLI::ValidationError("forward", "give exactly one of --model or --module");
    if (a->intermediates && !a->module.empty()) throw CLI::ValidationError("--intermediates", "needs --model");
    if (a->pretrained.pretrained && !a->module.empty())
      throw CLI::ValidationError("--pretrained", "released weights are per model variant: use --model, or --weights with --module");
    action = [a] { return run_forward(*a); };
  });
}

}  // namespace attnzoo::cli
