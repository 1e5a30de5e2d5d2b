#pragma once
// Builds attention modules by their official (family, class) name from official constructor
// arguments. Used by the fixture parity harness, `attnzoo list --modules` and `attnzoo forward --module`.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::modules {

struct BuiltModule {
  std::shared_ptr<torch::nn::Module> module;
  /// Runs the official forward: tensors in the official call order, `extra` = non-tensor forward
  /// arguments (e.g. {"H": 7, "W": 7}); returns the official outputs in order.
  std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs, const nlohmann::json& extra)> forward;
};

struct ModuleEntry {
  std::string family;       // "van"
  std::string official;     // official class name: "LKA"
  std::string cpp_name;     // attnzoo class: "attnzoo::modules::LKA"
  std::string description;
  std::function<BuiltModule(const nlohmann::json& config)> build;
  /// The official constructor arguments with their defaults (required ones: placeholders); null where
  /// the entry has no single table.
  nlohmann::json default_args;
  /// The tensors the forward takes, in call order (the first is required, later ones may be left out).
  std::vector<std::string> inputs{"x"};
  /// Its non-tensor arguments, read from `extra` (e.g. "H", "W", "size").
  std::vector<std::string> forward_args;
};

using ModuleEntries = std::vector<ModuleEntry>;

// One registration function per family, defined beside the family's modules.
void register_van_modules(ModuleEntries& e);
void register_convit_modules(ModuleEntries& e);
void register_biformer_modules(ModuleEntries& e);
void register_biformer_stl_modules(ModuleEntries& e);
void register_davit_modules(ModuleEntries& e);
void register_litv2_modules(ModuleEntries& e);
void register_nat_modules(ModuleEntries& e);
void register_agent_modules(ModuleEntries& e);
void register_agent_cswin_modules(ModuleEntries& e);
void register_halonet_modules(ModuleEntries& e);
void register_sigmoid_attn_modules(ModuleEntries& e);
void register_lightning_attn_modules(ModuleEntries& e);
void register_sgconv_modules(ModuleEntries& e);
void register_volo_modules(ModuleEntries& e);
void register_unireplknet_modules(ModuleEntries& e);
void register_moh_modules(ModuleEntries& e);

/// Every module, in family order.
const std::vector<ModuleEntry>& module_entries();
/// Throws std::invalid_argument listing the known ones when (family, official) is unknown.
const ModuleEntry& find_module(const std::string& family, const std::string& official);

}  // namespace attnzoo::modules
