#include "commands.h"

#include <attnzoo/checkpoint/hub.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/sequence_registry.h>

#include <iomanip>
#include <iostream>
#include <sstream>

namespace attnzoo::cli {
namespace {

// One line per variant with released weights: name, published top-1, file name, local copy.
void list_pretrained(const std::string& pattern) {
  for (const auto& name : models::registry().list(pattern)) {
    const models::PretrainedCfg& cfg = models::registry().find_variant(name)->pretrained;
    if (!cfg.has_weights()) continue;
    std::ostringstream top1;
    if (cfg.top1 > 0) top1 << std::fixed << std::setprecision(1) << cfg.top1;
    else top1 << "-";
    std::cout << name << "\t" << top1.str() << "\t" << cfg.weights_file() << "\t" << checkpoint::local_weights(cfg.weights_file()).value_or("-").string() << "\n";
  }
}

}  // namespace

void add_list_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("list", "list model variants (wildcards, natural order) or modules");
  auto pattern = std::make_shared<std::string>();
  auto modules = std::make_shared<bool>(false);
  auto families = std::make_shared<bool>(false);
  auto attentions = std::make_shared<bool>(false);
  auto pretrained = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  cmd->add_option("pattern", *pattern, "filter, e.g. 'van_b*' (a plain word matches as a substring)");
  cmd->add_flag("--modules", *modules, "list the attention modules and layers instead");
  cmd->add_flag("--families", *families, "list the model families instead");
  cmd->add_flag("--attentions", *attentions, "list the sequence attentions (lra_encoder's attention=NAME) instead");
  cmd->add_flag("--pretrained", *pretrained,
                "only variants with released weights: name, published top-1, file name, local copy (or -)");
  cmd->add_flag("--json", *json,
                "model variants as JSON: name, family, pretrained config (with the weights' file, URL, top-1); with "
                "--modules: each module's input tensors, forward arguments and constructor arguments");
  cmd->callback([&action, pattern, modules, families, attentions, pretrained, json] {
    action = [pattern, modules, families, attentions, pretrained, json] {
      std::string p = *pattern;
      if (!p.empty() && p.find_first_of("*?") == std::string::npos) p = "*" + p + "*";
      if (*modules) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& m : modules::module_entries()) {
          const std::string name = m.family + "." + m.official;
          if (!p.empty() && !models::wildcard_match(p, name)) continue;
          if (*json)  // what `forward --module` reads: the input tensors by name and the forward arguments
            out.push_back({{"name", name}, {"class", m.cpp_name}, {"description", m.description}, {"inputs", m.inputs},
                           {"forward_args", m.forward_args}, {"args", m.default_args}});
          else
            std::cout << name << "\t" << m.cpp_name << "\t" << m.description << "\n";
        }
        if (*json) std::cout << out.dump(2) << "\n";
      } else if (*attentions) {
        for (const auto& a : modules::sequence_attentions())
          if (p.empty() || models::wildcard_match(p, a.name)) std::cout << a.name << "\t" << a.description << "\n";
      } else if (*families) {
        for (const auto& f : models::registry().families())
          if (p.empty() || models::wildcard_match(p, f.name)) std::cout << f.name << "\t" << f.description << "\n";
      } else if (*json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& name : models::registry().list(p)) {
          const models::ModelVariant* v = models::registry().find_variant(name);
          if (*pretrained && !v->pretrained.has_weights()) continue;
          out.push_back({{"name", name}, {"family", v->family}, {"pretrained_cfg", v->pretrained.to_json()}});
        }
        std::cout << out.dump(1) << "\n";
      } else if (*pretrained) {
        list_pretrained(p);
      } else {
        for (const auto& name : models::registry().list(p)) std::cout << name << "\n";
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
