#include <attnzoo/modules/module_registry.h>

#include "module_entry.h"

#include <stdexcept>

namespace attnzoo::modules {

nlohmann::json without_arg(const nlohmann::json& config, const std::string& key) {
  nlohmann::json c = config;
  if (c.is_object()) c.erase(key);
  return c;
}

namespace {

ModuleEntries make_entries() {
  ModuleEntries e;
  register_van_modules(e);
  register_convit_modules(e);
  register_biformer_modules(e);
  register_biformer_stl_modules(e);
  register_davit_modules(e);
  register_litv2_modules(e);
  register_nat_modules(e);
  register_agent_modules(e);
  register_agent_cswin_modules(e);
  register_halonet_modules(e);
  register_sigmoid_attn_modules(e);
  register_lightning_attn_modules(e);
  register_sgconv_modules(e);
  register_volo_modules(e);
  register_unireplknet_modules(e);
  register_moh_modules(e);
  return e;
}

}  // namespace

const std::vector<ModuleEntry>& module_entries() {
  static const std::vector<ModuleEntry> entries = make_entries();
  return entries;
}

const ModuleEntry& find_module(const std::string& family, const std::string& official) {
  for (const auto& m : module_entries())
    if (m.family == family && m.official == official) return m;
  std::string known;
  for (const auto& m : module_entries()) known += (known.empty() ? "" : ", ") + m.family + "." + m.official;
  throw std::invalid_argument("unknown module '" + family + "." + official + "' (known: " + known + ")");
}

}  // namespace attnzoo::modules
