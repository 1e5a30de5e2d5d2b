#pragma once
// The model registry: variant name -> family + official constructor arguments + pretrained config.
// Families register explicitly (register_all_families), never through static initialisers.
#include <attnzoo/core/arg_table.h>
#include <attnzoo/core/natural_sort.h>
#include <attnzoo/models/classifier.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace attnzoo::models {

struct ModelFamily {
  std::string name;         // "van"
  std::string description;  // one line, with the paper
  /// Every constructor argument with its default (official names). Keys outside it are rejected.
  nlohmann::json default_args;
  std::function<ClassifierPtr(const nlohmann::json& args)> build;
  /// Used when a model is built by family name (first_conv / classifier names matter for fine-tuning).
  PretrainedCfg pretrained;
};

/// A family whose constructor arguments are exactly those of `Options`' argument table (visit_args):
/// the defaults come from `defaults`, and building parses arguments through the same table.
template <class Model, class Options>
ModelFamily family_of(std::string name, std::string description, PretrainedCfg pretrained, Options defaults = Options{}) {
  ModelFamily f;
  f.name = name;
  f.description = std::move(description);
  f.default_args = args_of(defaults);
  f.build = [name, defaults](const nlohmann::json& args) -> ClassifierPtr {
    return Model(options_from_args(args, name, defaults)).ptr();
  };
  f.pretrained = std::move(pretrained);
  return f;
}

struct ModelVariant {
  std::string name;     // "van_b0"
  std::string family;   // "van"
  nlohmann::json args;  // arguments the official variant function passes
  PretrainedCfg pretrained;
};

class Registry {
 public:
  void add_family(ModelFamily family);
  void add_variant(ModelVariant variant);

  const std::vector<ModelFamily>& families() const { return families_; }
  const std::vector<ModelVariant>& variants() const { return variants_; }
  const ModelFamily* find_family(const std::string& name) const;
  const ModelVariant* find_variant(const std::string& name) const;

  /// Variant names matching a shell wildcard pattern ('*' and '?'; empty = all), naturally sorted.
  std::vector<std::string> list(const std::string& pattern = "") const;

  /// Arguments NAME resolves to: family defaults <- variant args <- overrides. NAME is a variant
  /// or a family. Throws std::invalid_argument for unknown names or unknown argument keys.
  nlohmann::json resolve_args(const std::string& name, const nlohmann::json& overrides = {}) const;
  /// Builds NAME (variant or family) with overrides; attaches the pretrained config.
  ClassifierPtr create(const std::string& name, const nlohmann::json& overrides = {}) const;

 private:
  std::vector<ModelFamily> families_;
  std::vector<ModelVariant> variants_;
};

/// The process-wide registry with every family of the zoo registered (thread-safe, on first use).
const Registry& registry();

/// Shortcut: registry().create(name, overrides).
ClassifierPtr create_model(const std::string& name, const nlohmann::json& overrides = {});

/// Natural ordering ("van_b2" < "van_b10").
using attnzoo::natural_less;
/// fnmatch-style '*' / '?' matching.
bool wildcard_match(const std::string& pattern, const std::string& text);

// Family registration functions, one per family file.
void register_van(Registry& r);
void register_convit(Registry& r);
void register_biformer(Registry& r);
void register_biformer_stl(Registry& r);
void register_davit(Registry& r);
void register_litv2(Registry& r);
void register_byoanet(Registry& r);
void register_nat(Registry& r);
void register_agent(Registry& r);
void register_sigmoid_vit(Registry& r);
void register_volo(Registry& r);
void register_unireplknet(Registry& r);
void register_moh(Registry& r);
void register_agent_cswin(Registry& r);

}  // namespace attnzoo::models
