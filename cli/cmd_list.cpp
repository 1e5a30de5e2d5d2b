#include "commands.h"

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/sequence_registry.h>

#include <iostream>

namespace attnzoo::cli {

void add_list_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("list", "list model variants (wildcards, natural order) or modules");
  auto pattern = std::make_shared<std::string>();
  auto modules = std::make_shared<bool>(false);
  auto families = std::make_shared<bool>(false);
  auto attentions = std::make_shared<bool>(false);
  cmd->add_option("pattern", *pattern, "filter, e.g. 'van_b*' (a plain word matches as a substring)");
  cmd->add_flag("--modules", *modules, "list the attention modules and layers instead");
  cmd->add_flag("--families", *families, "list the model families instead");
  cmd->add_flag("--attentions", *attentions, "list the sequence attentions (lra_encoder's attention=NAME) instead");
  cmd->callback([&action, pattern, modules, families, attentions] {
    action = [pattern, modules, families, attentions] {
      std::string p = *pattern;
      if (!p.empty() && p.find_first_of("*?") == std::string::npos) p = "*" + p + "*";
      if (*modules) {
        for (const auto& m : modules::module_entries()) {
          const std::string name = m.family + "." + m.official;
          if (p.empty() || models::wildcard_match(p, name))
            std::cout << name << "\t" << m.cpp_name << "\t" << m.description << "\n";
        }
      } else if (*attentions) {
        for (const auto& a : modules::sequence_attentions())
          if (p.empty() || models::wildcard_match(p, a.name)) std::cout << a.name << "\t" << a.description << "\n";
      } else if (*families) {
        for (const auto& f : models::registry().families())
          if (p.empty() || models::wildcard_match(p, f.name)) std::cout << f.name << "\t" << f.description << "\n";
      } else {
        for (const auto& name : models::registry().list(p)) std::cout << name << "\n";
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
