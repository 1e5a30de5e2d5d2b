#pragma once
// The model-selection flags shared by subcommands: --model NAME, --config FILE, --set key=value.
#include <attnzoo/models/classifier.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnzoo::cli {

struct ModelArgs {
  std::string name;
  std::string config;
  std::vector<std::string> sets;

  /// `required` false: the command can name its models another way (bench --model-list).
  void add_to(CLI::App& cmd, bool positional_name = false, bool required = true);
  /// Overrides from --config then --set (flags win).
  nlohmann::json overrides() const;
  /// Builds the model; unknown names/arguments are usage errors naming the flag.
  models::ClassifierPtr build() const;
};

/// --pretrained / --download: the weights the authors released for --model (issue #15).
struct PretrainedArgs {
  bool pretrained = false;
  bool download = false;

  /// Adds both flags; --pretrained excludes `weights_flag` (the command's own weights option).
  void add_to(CLI::App& cmd, const std::string& weights_flag = "");
  /// The weights' path for `model` with --pretrained, else "". A variant without released weights is a
  /// usage error; a missing file is one line with the URL and where to place it.
  std::string resolve(const std::string& model) const;
};

/// The models a sweep covers (timm's benchmark.py / validate.py rule): --model-list FILE (one name per line, '#'
/// comments), else --model, which may be a wildcard pattern over the registry's variants ('van_b*').
/// Usage errors name the flag.
std::vector<std::string> model_names(const std::string& model, const std::string& list_file);

/// "float32", "int64", ... as in the fixtures' key lists.
std::string dtype_name(at::ScalarType t);

}  // namespace attnzoo::cli
