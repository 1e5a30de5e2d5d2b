#pragma once
// Configs and recipes from files and the command line (here in core, below every parser of them, so the
// sanitizer/fuzz build needs no model code): a JSON or YAML object of official constructor
// arguments, plus `--set key=value` overrides (the value parsed as JSON when it is JSON, else a string).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnzoo {

/// Reads a .json/.yaml/.yml file holding one object. Errors name the file and the line.
nlohmann::json read_config_file(const std::string& path);
/// YAML text -> JSON (scalars typed as YAML 1.2 core: ints, floats, bools, null, strings).
nlohmann::json yaml_to_json(const std::string& text, const std::string& what);
/// JSON -> YAML text (block style; what yaml_to_json reads back as the same JSON).
std::string json_to_yaml(const nlohmann::json& value);
/// Applies "key=value" items (dotted keys address nested objects) onto `base`.
nlohmann::json apply_overrides(nlohmann::json base, const std::vector<std::string>& items);

}  // namespace attnzoo
