#include "model_args.h"

#include "commands.h"

#include <attnzoo/core/config.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <fstream>

namespace attnzoo::cli {

void ModelArgs::add_to(CLI::App& cmd, bool positional_name, bool required) {
  CLI::Option* opt = positional_name ? cmd.add_option("model,--model", name, "variant (e.g. van_b0) or family (e.g. van)")
                                     : cmd.add_option("--model", name, "variant (e.g. van_b0) or family (e.g. van)");
  opt->required(required);
  cmd.add_option("--config", config, "JSON/YAML object of official constructor arguments")->check(CLI::ExistingFile);
  cmd.add_option("--set", sets, "override one constructor argument: key=value (value as JSON/YAML)")->take_all();
}

nlohmann::json ModelArgs::overrides() const {
  nlohmann::json o = nlohmann::json::object();
  if (!config.empty()) o = read_config_file(config);
  return apply_overrides(o, sets);
}

models::ClassifierPtr ModelArgs::build() const {
  try {
    return models::create_model(name, overrides());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--model ") + name + ": " + e.what());
  }
}

void PretrainedArgs::add_to(CLI::App& cmd, const std::string& weights_flag) {
  auto* p = cmd.add_flag("--pretrained", pretrained,
                         "the authors' released weights of --model, looked up in $ATTNZOO_HOME/checkpoints then "
                         "$TORCH_HOME/hub/checkpoints ('list --pretrained')");
  if (!weights_flag.empty()) p->excludes(weights_flag);
  cmd.add_flag("--download", download, "with --pretrained: download the weights when no local copy exists")->needs(p);
}

std::string PretrainedArgs::resolve(const std::string& model) const {
  if (!pretrained) return "";
  if (model.empty()) throw UsageError("--pretrained needs --model VARIANT ('attnzoo list --pretrained')");
  try {
    return models::pretrained_weights(model, download, checkpoint::print_download_progress());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return "float64";
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::vector<std::string> model_names(const std::string& model, const std::string& list_file) {
  std::vector<std::string> names;
  if (!list_file.empty()) {
    std::ifstream in(list_file);
    if (!in) throw UsageError("--model-list " + list_file + ": cannot read");
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty()) names.push_back(line);
    }
    if (names.empty()) throw UsageError("--model-list " + list_file + ": names no model");
    return names;
  }
  if (model.empty()) throw UsageError("--model or --model-list is required");
  if (model.find_first_of("*?") == std::string::npos) return {model};
  names = models::registry().list(model);
  if (names.empty()) throw UsageError("--model " + model + ": no variant matches");
  return names;
}

}  // namespace attnzoo::cli
