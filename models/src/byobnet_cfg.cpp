// timm's ByoModelCfg / ByoBlockCfg <-> JSON (dataclasses.asdict form), with field-by-field errors.
#include <attnzoo/models/byobnet.h>

#include <attnzoo/core/args.h>

#include <stdexcept>

namespace attnzoo::models {

using json = nlohmann::json;

namespace {

const char* kBlockFields[] = {"type",       "d",          "c",                "s",           "gs",
                              "br",         "attn_layer", "attn_kwargs",      "self_attn_layer",
                              "self_attn_kwargs", "block_kwargs"};

// Python's None for an optional string / dict field: keep null, else require the JSON type.
json optional_field(ArgReader& a, const std::string& key, json::value_t want, const std::string& where) {
  if (!a.has(key)) {
    a.ignore(key);
    return nullptr;
  }
  json v = a.get<json>(key);
  if (!v.is_null() && v.type() != want)
    throw std::invalid_argument(where + ": field '" + key + "' has the wrong type: " + v.dump());
  return v;
}

ByoBlockCfg block_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(where + ": a block config must be an object, got " + j.dump());
  ArgReader a(j, where);
  ByoBlockCfg b;
  b.type = a.get<std::string>("type");
  b.d = a.get<int64_t>("d");
  b.c = a.get<int64_t>("c");
  b.s = a.get("s", b.s);
  b.gs = a.get("gs", b.gs);  // null -> 0 (one group)
  b.br = a.get("br", b.br);
  b.attn_layer = optional_field(a, "attn_layer", json::value_t::string, where);
  b.attn_kwargs = optional_field(a, "attn_kwargs", json::value_t::object, where);
  b.self_attn_layer = optional_field(a, "self_attn_layer", json::value_t::string, where);
  b.self_attn_kwargs = optional_field(a, "self_attn_kwargs", json::value_t::object, where);
  b.block_kwargs = optional_field(a, "block_kwargs", json::value_t::object, where);
  a.finish();
  if (b.d < 1 || b.c < 1 || b.s < 1 || b.gs < 0 || b.br <= 0)
    throw std::invalid_argument(where + ": bad block config " + j.dump());
  return b;
}

json block_to_json(const ByoBlockCfg& b) {
  return {{"type", b.type},
          {"d", b.d},
          {"c", b.c},
          {"s", b.s},
          {"gs", b.gs},
          {"br", b.br},
          {"attn_layer", b.attn_layer},
          {"attn_kwargs", b.attn_kwargs},
          {"self_attn_layer", b.self_attn_layer},
          {"self_attn_kwargs", b.self_attn_kwargs},
          {"block_kwargs", b.block_kwargs}};
}

std::string string_or_empty(ArgReader& a, const std::string& key, const std::string& fallback) {
  if (!a.has(key)) return a.get<std::string>(key, fallback);
  json v = a.get<json>(key);
  if (v.is_null()) return "";  // Python None
  if (!v.is_string()) throw std::invalid_argument("ByoModelCfg: field '" + key + "' must be a string, got " + v.dump());
  return v.get<std::string>();
}

json object_or_empty(ArgReader& a, const std::string& key) {
  json v = a.get<json>(key, json::object());
  if (v.is_null()) return json::object();
  if (!v.is_object()) throw std::invalid_argument("ByoModelCfg: field '" + key + "' must be an object, got " + v.dump());
  return v;
}

}  // namespace

ByoModelCfg ByoModelCfg::from_json(const json& j) {
  ArgReader a(j, "ByoModelCfg");
  ByoModelCfg c;
  const json blocks = a.get<json>("blocks");
  if (!blocks.is_array() || blocks.empty())
    throw std::invalid_argument("ByoModelCfg: 'blocks' must be a non-empty list of stages");
  for (size_t s = 0; s < blocks.size(); ++s) {
    const std::string where = "ByoModelCfg.blocks[" + std::to_string(s) + "]";
    std::vector<ByoBlockCfg> stage;
    if (blocks[s].is_array()) {
      for (size_t i = 0; i < blocks[s].size(); ++i)
        stage.push_back(block_from_json(blocks[s][i], where + "[" + std::to_string(i) + "]"));
    } else {
      stage.push_back(block_from_json(blocks[s], where));
    }
    if (stage.empty()) throw std::invalid_argument(where + ": empty stage");
    c.blocks.push_back(stage);
  }
  c.downsample = string_or_empty(a, "downsample", c.downsample);
  c.stem_type = string_or_empty(a, "stem_type", c.stem_type);
  c.stem_pool = string_or_empty(a, "stem_pool", c.stem_pool);
  if (a.has("stem_chs")) {
    const json sc = a.get<json>("stem_chs");
    if (sc.is_array()) {
      c.stem_chs = sc.get<std::vector<int64_t>>();
      c.stem_chs_is_list = true;
    } else if (sc.is_null()) {
      c.stem_chs = {0};  // None: the first stage's channels
    } else {
      c.stem_chs = {sc.get<int64_t>()};
    }
  }
  c.width_factor = a.get("width_factor", c.width_factor);
  c.num_features = a.get("num_features", c.num_features);
  c.zero_init_last = a.get("zero_init_last", c.zero_init_last);
  c.fixed_input_size = a.get("fixed_input_size", c.fixed_input_size);
  c.act_layer = a.get("act_layer", c.act_layer);
  c.norm_layer = a.get("norm_layer", c.norm_layer);
  c.aa_layer = string_or_empty(a, "aa_layer", c.aa_layer);
  if (a.has("head_hidden_size") && !a.get<json>("head_hidden_size").is_null())
    throw std::invalid_argument("ByoModelCfg: head_hidden_size is not supported (classifier head only)");
  a.ignore("head_hidden_size");
  c.head_type = string_or_empty(a, "head_type", c.head_type);
  c.attn_layer = string_or_empty(a, "attn_layer", "");
  c.attn_kwargs = object_or_empty(a, "attn_kwargs");
  c.self_attn_layer = string_or_empty(a, "self_attn_layer", "");
  c.self_attn_kwargs = object_or_empty(a, "self_attn_kwargs");
  c.block_kwargs = object_or_empty(a, "block_kwargs");
  a.finish();
  // What this port builds; everything else is refused by name rather than built differently.
  if (c.norm_layer != "batchnorm")
    throw std::invalid_argument("ByoModelCfg: norm_layer '" + c.norm_layer + "' is not supported (batchnorm)");
  if (!c.aa_layer.empty()) throw std::invalid_argument("ByoModelCfg: aa_layer '" + c.aa_layer + "' is not supported");
  if (c.head_type != "classifier" && !c.head_type.empty())
    throw std::invalid_argument("ByoModelCfg: head_type '" + c.head_type + "' is not supported (classifier)");
  return c;
}

json ByoModelCfg::to_json() const {
  json stages = json::array();
  for (const auto& st : blocks) {
    if (st.size() == 1) {
      stages.push_back(block_to_json(st[0]));
    } else {
      json l = json::array();
      for (const auto& b : st) l.push_back(block_to_json(b));
      stages.push_back(l);
    }
  }
  json stem = stem_chs_is_list ? json(stem_chs) : json(stem_chs.at(0));
  auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"blocks", stages},
          {"downsample", downsample},
          {"stem_type", stem_type},
          {"stem_pool", stem_pool},
          {"stem_chs", stem},
          {"width_factor", width_factor},
          {"num_features", num_features},
          {"zero_init_last", zero_init_last},
          {"fixed_input_size", fixed_input_size},
          {"act_layer", act_layer},
          {"norm_layer", norm_layer},
          {"aa_layer", aa_layer},
          {"head_hidden_size", nullptr},
          {"head_type", head_type},
          {"attn_layer", opt(attn_layer)},
          {"attn_kwargs", attn_kwargs},
          {"self_attn_layer", opt(self_attn_layer)},
          {"self_attn_kwargs", self_attn_kwargs},
          {"block_kwargs", block_kwargs}};
}

json interleave_blocks(const std::string& type0, const std::string& type1, int64_t d, const json& every,
                       const json& kwargs, bool first) {
  std::vector<int64_t> idx;
  if (every.is_number_integer()) {
    const int64_t n = every.get<int64_t>();
    for (int64_t i = first ? 0 : n; i < d; i += n + 1) idx.push_back(i);
    if (idx.empty()) idx.push_back(d - 1);
  } else {
    idx = every.get<std::vector<int64_t>>();
  }
  json out = json::array();
  for (int64_t i = 0; i < d; ++i) {
    json b = {{"type", std::find(idx.begin(), idx.end(), i) != idx.end() ? type1 : type0}, {"d", 1}};
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) b[it.key()] = it.value();
    out.push_back(b);
  }
  return out;
}

}  // namespace attnzoo::models
