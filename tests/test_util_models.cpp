// The test helpers that need the model registry (kept apart so the sanitizer build of the parser tests,
// which has no model code, can link test_util.cpp alone).
#include "test_util.h"

#include <attnzoo/models/registry.h>

#include <algorithm>
#include <cctype>

namespace attnzoo::test {

std::string model_family_for(const std::string& folder, const nlohmann::json& spec) {
  if (models::registry().find_family(folder)) return folder;
  // A case may name its registry family itself (sigmoid_attn/'s ViT cases: "family": "sigmoid_vit").
  const std::string named = spec.value("family", "");
  if (!named.empty() && models::registry().find_family(named)) return named;
  // One folder, several official files (agent/: agent_deit.py, agent_pvt.py, ...): the file names the family.
  const std::string stem = official_file_stem(spec);
  if (!stem.empty() && models::registry().find_family(stem)) return stem;
  std::string family = spec.at("official").at("class").get<std::string>();
  std::transform(family.begin(), family.end(), family.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return family;
}

}  // namespace attnzoo::test
