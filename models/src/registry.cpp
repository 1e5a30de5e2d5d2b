#include <attnzoo/models/registry.h>

#include <attnzoo/core/natural_sort.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

namespace attnzoo::models {

void Registry::add_family(ModelFamily family) {
  if (find_family(family.name)) throw std::logic_error("model family registered twice: " + family.name);
  families_.push_back(std::move(family));
}

void Registry::add_variant(ModelVariant variant) {
  if (find_variant(variant.name)) throw std::logic_error("model variant registered twice: " + variant.name);
  if (!find_family(variant.family)) throw std::logic_error("variant " + variant.name + " of unknown family " + variant.family);
  variant.pretrained.num_classes = variant.args.value("num_classes", variant.pretrained.num_classes);
  variants_.push_back(std::move(variant));
}

const ModelFamily* Registry::find_family(const std::string& name) const {
  for (const auto& f : families_)
    if (f.name == name) return &f;
  return nullptr;
}

const ModelVariant* Registry::find_variant(const std::string& name) const {
  for (const auto& v : variants_)
    if (v.name == name) return &v;
  return nullptr;
}

std::vector<std::string> Registry::list(const std::string& pattern) const {
  std::vector<std::string> out;
  for (const auto& v : variants_)
    if (pattern.empty() || wildcard_match(pattern, v.name)) out.push_back(v.name);
  std::sort(out.begin(), out.end(), natural_less);
  return out;
}

nlohmann::json Registry::resolve_args(const std::string& name, const nlohmann::json& overrides) const {
  const ModelVariant* v = find_variant(name);
  const ModelFamily* f = v ? find_family(v->family) : find_family(name);
  if (!f) {
    std::string hint;
    for (const auto& cand : variants_)
      if (cand.name.find(name) != std::string::npos || name.find(cand.family) == 0) hint += (hint.empty() ? "" : ", ") + cand.name;
    throw std::invalid_argument("unknown model '" + name + "'" + (hint.empty() ? " (see 'attnzoo list')" : " (did you mean: " + hint + "?)"));
  }
  nlohmann::json args = f->default_args;
  auto merge = [&](const nlohmann::json& extra, const std::string& from) {
    if (extra.is_null()) return;
    if (!extra.is_object()) throw std::invalid_argument(from + ": model arguments must be an object");
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (!args.contains(it.key())) {
        std::string known;
        for (auto k = f->default_args.begin(); k != f->default_args.end(); ++k) known += (known.empty() ? "" : ", ") + k.key();
        throw std::invalid_argument(from + ": unknown argument '" + it.key() + "' for model family '" + f->name +
                                    "' (known: " + known + ")");
      }
      args[it.key()] = it.value();
    }
  };
  if (v) merge(v->args, v->name);
  merge(overrides, "overrides");
  return args;
}

ClassifierPtr Registry::create(const std::string& name, const nlohmann::json& overrides) const {
  nlohmann::json args = resolve_args(name, overrides);
  const ModelVariant* v = find_variant(name);
  const ModelFamily* f = v ? find_family(v->family) : find_family(name);
  ClassifierPtr m = f->build(args);
  PretrainedCfg cfg = v ? v->pretrained : f->pretrained;
  cfg.num_classes = m->num_classes();
  m->set_pretrained_cfg(cfg);
  return m;
}

const Registry& registry() {
  static Registry r;
  static std::once_flag once;
  std::call_once(once, [] {
    register_van(r);
    register_convit(r);
    register_biformer(r);
    register_biformer_stl(r);
    register_davit(r);
    register_litv2(r);
    register_byoanet(r);
    register_nat(r);
    register_agent(r);
    register_agent_cswin(r);
    register_sigmoid_vit(r);
    register_volo(r);
    register_unireplknet(r);
    register_moh(r);
  });
  return r;
}

ClassifierPtr create_model(const std::string& name, const nlohmann::json& overrides) {
  if (overrides.is_object() && overrides.contains("features_only")) {
    if (overrides.at("features_only").is_boolean() && overrides.at("features_only").get<bool>())
      throw std::invalid_argument("create_model(\"" + name + "\", features_only=true): a features-only model is not a "
                                  "classifier; call create_features_model(name, out_indices, overrides) "
                                  "(models/features.h), which takes timm's features_only / out_indices / output_fmt");
    nlohmann::json rest = overrides;
    rest.erase("features_only");  // features_only=false: the classifier, as timm
    return registry().create(name, rest);
  }
  return registry().create(name, overrides);
}

bool wildcard_match(const std::string& p, const std::string& t) {
  size_t pi = 0, ti = 0, star = std::string::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace attnzoo::models
