#include <attnzoo/models/halonet.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace attnzoo::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using json = nlohmann::json;
using modules::ConvNormAct;
using modules::ConvNormActOptions;

// ---------------------------------------------------------------------------------------------------
// ByoModelCfg <-> JSON

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

// ---------------------------------------------------------------------------------------------------
// Stem

namespace {

// timm Stem: a stack of 3x3 (or 7x7) ConvNormAct (stride 2 first; the last one strided too when there is
// no pool) and an optional pool; total stride 4. Keys conv1, conv2, ...
class StemImpl : public nn::Module {
 public:
  StemImpl(int64_t in_chs, const std::vector<int64_t>& chs, int64_t kernel, const std::string& pool, int64_t num_act,
           const std::string& act)
      : pool_(pool) {
    const int64_t n = static_cast<int64_t>(chs.size());
    std::vector<int64_t> strides(n, 1);
    strides[0] = 2;
    if (pool.empty()) strides[n - 1] = 2;
    TORCH_CHECK(n >= 2 || !pool.empty(), "ByobNet stem: a single conv needs a pool to reach stride 4");
    int64_t prev = in_chs;
    for (int64_t i = 0; i < n; ++i) {
      const std::string name = "conv" + std::to_string(i + 1);
      const bool norm_act = i >= n - num_act;
      if (norm_act) {
        convs_.push_back(nn::AnyModule(register_module(
            name, ConvNormAct(ConvNormActOptions(prev, chs[i], kernel).stride(strides[i]).act_layer(act)))));
      } else {  // timm create_conv2d: plain conv, no bias, symmetric padding
        const int64_t pad = ((strides[i] - 1) + (kernel - 1)) / 2;
        convs_.push_back(nn::AnyModule(register_module(
            name, nn::Conv2d(nn::Conv2dOptions(prev, chs[i], kernel).stride(strides[i]).padding(pad).bias(false)))));
      }
      prev = chs[i];
    }
    static const char* pools[] = {"", "max", "maxpool", "avg", "avgpool", "max2", "avg2"};
    if (std::find(std::begin(pools), std::end(pools), pool) == std::end(pools))
      throw std::invalid_argument("ByoModelCfg: unknown stem_pool '" + pool + "' (max, maxpool, avg, avgpool, max2, avg2)");
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = x;
    for (auto& c : convs_) y = c.forward(y);
    if (pool_ == "max2") return F::max_pool2d(y, F::MaxPool2dFuncOptions(2));
    if (pool_ == "avg2") return F::avg_pool2d(y, F::AvgPool2dFuncOptions(2));
    if (pool_.find("max") != std::string::npos) return F::max_pool2d(y, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    if (pool_.find("avg") != std::string::npos)
      return F::avg_pool2d(y, F::AvgPool2dFuncOptions(3).stride(2).padding(1).count_include_pad(false));
    return y;
  }

 private:
  std::string pool_;
  std::vector<nn::AnyModule> convs_;
};

int64_t py_round(double v) { return static_cast<int64_t>(std::nearbyint(v)); }  // banker's, like Python 3

// Returns the stem module, its output channels and its stride (timm create_byob_stem).
nn::AnyModule make_stem(const ByoModelCfg& cfg, int64_t in_chs, int64_t* out_chs, int64_t* stride) {
  const std::string& t = cfg.stem_type;
  const std::string& pool = cfg.stem_pool;
  const std::string& act = cfg.act_layer;
  std::vector<int64_t> list;
  int64_t out = 0;
  if (cfg.stem_chs_is_list) {
    for (auto c : cfg.stem_chs) list.push_back(py_round(static_cast<double>(c) * cfg.width_factor));
  } else {
    const int64_t base = cfg.stem_chs.at(0) > 0 ? cfg.stem_chs.at(0) : cfg.blocks.at(0).at(0).c;
    out = py_round(static_cast<double>(base) * cfg.width_factor);
  }
  auto stem = [&](std::vector<int64_t> chs, int64_t kernel, int64_t num_act) {
    *out_chs = chs.back();
    *stride = 4;
    const auto n = static_cast<int64_t>(chs.size());
    return nn::AnyModule(std::make_shared<StemImpl>(in_chs, chs, kernel, pool, num_act < 0 ? n : num_act, act));
  };
  auto decayed = [&](int64_t n, double decay) {
    std::vector<int64_t> chs;
    for (int64_t i = n - 1; i >= 0; --i) chs.push_back(py_round(static_cast<double>(out) * std::pow(decay, i)));
    return chs;
  };
  auto single = [&](int64_t kernel) {
    *out_chs = out;
    *stride = 2;
    return nn::AnyModule(ConvNormAct(ConvNormActOptions(in_chs, out, kernel).stride(2).act_layer(act)));
  };
  if (t.find("quad") != std::string::npos) return stem(decayed(4, 0.5), 3, t.find("quad2") != std::string::npos ? 2 : -1);
  if (t.find("tiered") != std::string::npos) return stem({3 * out / 8, out / 2, out}, 3, -1);
  if (t.find("deep") != std::string::npos) return stem(decayed(3, 1.0), 3, -1);
  if (t == "rep" || t == "one")
    throw std::invalid_argument("ByoModelCfg: stem_type '" + t + "' (RepVGG / MobileOne) is not supported");
  if (t.find("7x7") != std::string::npos) return pool.empty() ? single(7) : stem({out}, 7, -1);
  if (!t.empty() && t != "3x3")
    throw std::invalid_argument("ByoModelCfg: unknown stem_type '" + t + "' (quad, quad2, tiered, deep, 7x7, 3x3)");
  if (cfg.stem_chs_is_list) return stem(list, 3, -1);
  return pool.empty() ? single(3) : stem({out}, 3, -1);
}

// timm update_block_kwargs: per-block attn / self-attn / block kwargs replace (never merge) the model's.
modules::ByobLayers block_layers(const ByoModelCfg& cfg, const ByoBlockCfg& b) {
  modules::ByobLayers l;
  l.act_layer = cfg.act_layer;
  l.attn_layer = cfg.attn_layer;
  l.attn_kwargs = cfg.attn_kwargs;
  l.self_attn_layer = cfg.self_attn_layer;
  l.self_attn_kwargs = cfg.self_attn_kwargs;
  const bool attn_set = !b.attn_layer.is_null();
  if (attn_set || !b.attn_kwargs.is_null()) {
    if (attn_set && b.attn_layer.get<std::string>().empty()) {
      l.attn_layer.clear();
    } else {
      l.attn_kwargs = b.attn_kwargs.is_null() ? cfg.attn_kwargs : b.attn_kwargs;
      if (attn_set) l.attn_layer = b.attn_layer.get<std::string>();
    }
  }
  const bool self_set = !b.self_attn_layer.is_null();
  if (self_set || !b.self_attn_kwargs.is_null()) {
    if (self_set && b.self_attn_layer.get<std::string>().empty()) {
      l.self_attn_layer.clear();
    } else {
      l.self_attn_kwargs = b.self_attn_kwargs.is_null() ? cfg.self_attn_kwargs : b.self_attn_kwargs;
      if (self_set) l.self_attn_layer = b.self_attn_layer.get<std::string>();
    }
  }
  return l;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// ByobNet

ByobNetImpl::ByobNetImpl(const ByobNetOptions& o) : options(o) {
  const ByoModelCfg& cfg = o.cfg();
  modules::check_activation(cfg.act_layer, "ByoModelCfg.act_layer");
  if (cfg.fixed_input_size && o.img_size().empty())
    throw std::invalid_argument("ByobNet: this config has a fixed input size: img_size is required");
  std::vector<int64_t> feat = o.img_size();
  if (feat.size() == 1) feat.push_back(feat[0]);

  int64_t prev_chs = 0, net_stride = 0;
  stem = make_stem(cfg, o.in_chans(), &prev_chs, &net_stride);
  register_module("stem", stem.ptr());
  if (!feat.empty()) feat = {feat[0] / net_stride, feat[1] / net_stride};

  std::vector<int64_t> depths;
  int64_t total = 0;
  for (const auto& st : cfg.blocks) {
    int64_t d = 0;
    for (const auto& b : st) d += b.d;
    depths.push_back(d);
    total += d;
  }
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), total);
  stages = register_module("stages", nn::ModuleList());
  int64_t global = 0;
  for (size_t si = 0; si < cfg.blocks.size(); ++si) {
    // expand_blocks_cfg: every config repeated d times.
    std::vector<ByoBlockCfg> expanded;
    for (const auto& b : cfg.blocks[si])
      for (int64_t r = 0; r < b.d; ++r) expanded.push_back(b);
    const int64_t stride = expanded[0].s;
    if (net_stride >= 32 && stride > 1)
      throw std::invalid_argument("ByobNet: stage " + std::to_string(si) +
                                  " would be dilated (output stride > 32), which this port does not support");
    net_stride *= stride;
    nn::Sequential stage;
    std::vector<std::shared_ptr<modules::ByobBlockBase>> stage_blocks;
    for (size_t bi = 0; bi < expanded.size(); ++bi, ++global) {
      const ByoBlockCfg& b = expanded[bi];
      const int64_t out_chs = modules::make_divisible(static_cast<double>(b.c) * cfg.width_factor);
      const int64_t block_stride = bi == 0 ? stride : 1;
      const double dpr = rates[static_cast<size_t>(global)];
      modules::ByobBlockOptions bo(prev_chs, out_chs);
      bo.stride(block_stride)
          .group_size(b.gs)
          .bottle_ratio(b.br)
          .downsample(cfg.downsample)
          .drop_path_rate(dpr)
          .layers(block_layers(cfg, b))
          .attn_last(b.type == "basic");  // the blocks' own defaults
      if (b.type == "self_attn") bo.feat_size(feat);
      const json bkw = b.block_kwargs.is_null() ? cfg.block_kwargs : b.block_kwargs;
      ArgReader a(bkw, "block_kwargs of stage " + std::to_string(si) + " block " + std::to_string(bi));
      bo.kernel_size(a.get("kernel_size", bo.kernel_size()))
          .attn_last(a.get("attn_last", bo.attn_last()))
          .linear_out(a.get("linear_out", bo.linear_out()))
          .extra_conv(a.get("extra_conv", bo.extra_conv()))
          .bottle_in(a.get("bottle_in", bo.bottle_in()))
          .post_attn_na(a.get("post_attn_na", bo.post_attn_na()));
      a.finish();
      auto block = modules::make_byob_block(b.type, bo);
      stage->push_back(std::to_string(bi), block);
      stage_blocks.push_back(block);
      prev_chs = out_chs;
      if (block_stride > 1 && !feat.empty()) feat = {feat[0] / block_stride, feat[1] / block_stride};
    }
    stages->push_back(stage);
    blocks.push_back(stage_blocks);
    feature_info_.push_back({prev_chs, net_stride, "stages." + std::to_string(si)});
  }
  if (cfg.num_features > 0) {
    num_features_ = py_round(cfg.width_factor * static_cast<double>(cfg.num_features));
    final_conv = register_module(
        "final_conv", ConvNormAct(ConvNormActOptions(prev_chs, num_features_, 1).act_layer(cfg.act_layer)));
  } else {
    num_features_ = prev_chs;
  }
  head_name_ = "head.fc";
  reset_classifier(o.num_classes());

  // timm _init_weights (depth first): conv N(0, sqrt(2 / fan_out)), Linear N(0, .01), BN 1 / 0, then each
  // block's init_weights (zero-init of the last BN, attention layers' own init).
  torch::NoGradGuard ng;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      const auto& k = conv->options.kernel_size();
      const double fan_out = static_cast<double>(k->at(0) * k->at(1) * conv->options.out_channels() /
                                                 conv->options.groups());
      conv->weight.normal_(0.0, std::sqrt(2.0 / fan_out));
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* lin = m->as<nn::Linear>()) {
      lin->weight.normal_(0.0, 0.01);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
  for (auto& st : blocks)
    for (auto& b : st) b->init_weights(o.zero_init_last());
}

at::Tensor ByobNetImpl::run_stem(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "ByobNet: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  const auto& img = options.img_size();
  if (options.cfg().fixed_input_size && !img.empty())
    TORCH_CHECK(x.size(2) == img[0] && x.size(3) == img.back(), "ByobNet: this model has a fixed input size ", img[0],
                "x", img.back(), ", got ", x.size(2), "x", x.size(3));
  return stem.forward(x);
}

at::Tensor ByobNetImpl::forward_features(const at::Tensor& x) {
  at::Tensor y = run_stem(x);
  for (auto& st : blocks)
    for (auto& b : st) y = b->forward(y);
  return final_conv ? final_conv(y) : y;
}

std::vector<at::Tensor> ByobNetImpl::forward_intermediates(const at::Tensor& x) {
  std::vector<at::Tensor> out;
  at::Tensor y = run_stem(x);
  for (auto& st : blocks) {
    for (auto& b : st) y = b->forward(y);
    out.push_back(y);
  }
  return out;
}

at::Tensor ByobNetImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  at::Tensor pooled = x.mean({2, 3});
  if (options.drop_rate() > 0) pooled = F::dropout(pooled, F::DropoutFuncOptions().p(options.drop_rate()).training(is_training()));
  return apply_head(pooled, pre_logits);
}

void ByobNetImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  if (head) {
    torch::NoGradGuard ng;
    head->weight.normal_(0.0, 0.01);
    head->bias.zero_();
  }
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> ByobNetImpl::feature_info() const { return feature_info_; }

ByobNetOptions byobnet_options_from_args(const json& args) {
  ArgReader a(args, "halonet");
  ByobNetOptions o;
  json cfg = a.get<json>("cfg");
  if (!cfg.is_object()) throw std::invalid_argument("halonet: 'cfg' must be a ByoModelCfg object");
  // Top-level ByoModelCfg fields overlay cfg, as timm's ByobNet(**kwargs) does.
  for (const char* f : {"blocks", "downsample", "stem_type", "stem_pool", "stem_chs", "width_factor", "num_features",
                        "fixed_input_size", "act_layer", "norm_layer", "aa_layer", "head_hidden_size", "head_type",
                        "attn_layer", "attn_kwargs", "self_attn_layer", "self_attn_kwargs", "block_kwargs"}) {
    if (a.has(f) && !args.at(f).is_null()) cfg[f] = args.at(f);
    a.ignore(f);
  }
  o.cfg(ByoModelCfg::from_json(cfg));
  o.num_classes(a.get("num_classes", o.num_classes()))
      .in_chans(a.get("in_chans", o.in_chans()))
      .drop_rate(a.get("drop_rate", o.drop_rate()))
      .drop_path_rate(a.get("drop_path_rate", o.drop_path_rate()))
      .zero_init_last(a.get("zero_init_last", o.zero_init_last()));
  if (a.has("img_size") && !args.at("img_size").is_null()) {
    const json s = args.at("img_size");
    o.img_size(s.is_array() ? s.get<std::vector<int64_t>>() : std::vector<int64_t>{s.get<int64_t>()});
  }
  a.ignore("img_size");
  const auto pool = a.get<std::string>("global_pool", "avg");
  if (pool != "avg") throw std::invalid_argument("halonet: global_pool '" + pool + "' is not supported (avg)");
  const auto os = a.get<int64_t>("output_stride", 32);
  if (os != 32) throw std::invalid_argument("halonet: output_stride " + std::to_string(os) + " is not supported (32)");
  for (const char* k : {"drop_block_rate", "drop_block_size"}) {
    if (a.has(k) && k == std::string("drop_block_rate") && a.get<double>(k) > 0)
      throw std::invalid_argument("halonet: drop_block_rate > 0 (DropBlock) is not supported");
    a.ignore(k);
  }
  a.finish();
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Registration: timm byoanet.py model_cfgs of every halo variant.

namespace {

json blk(const std::string& type, int64_t d, int64_t c, int64_t s, int64_t gs, double br, const json& extra = json::object()) {
  json b = {{"type", type}, {"d", d}, {"c", c}, {"s", s}, {"gs", gs}, {"br", br}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

json stage_kw(int64_t c, int64_t s, int64_t gs, double br, const json& extra = json::object()) {
  json k = {{"c", c}, {"s", s}, {"gs", gs}, {"br", br}};
  for (auto it = extra.begin(); it != extra.end(); ++it) k[it.key()] = it.value();
  return k;
}

// Fills every field, as dataclasses.asdict does, so `info --json` shows the whole config.
json full_cfg(const json& partial) { return ByoModelCfg::from_json(partial).to_json(); }

PretrainedCfg byoa_pretrained(int64_t size, double crop, const std::string& file, bool fixed = false) {
  PretrainedCfg c;
  c.input_size = {3, size, size};
  c.crop_pct = crop;
  c.interpolation = "bicubic";
  c.first_conv = "stem.conv1.conv";
  c.classifier = "head.fc";
  c.fixed_input_size = fixed;
  if (!file.empty()) c.url = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-attn-weights/" + file;
  c.paper = "arXiv:2103.12731";
  return c;
}

json halonet26t_like(int64_t gs) {
  return json::array({blk("bottle", 2, 256, 1, gs, 0.25), blk("bottle", 2, 512, 2, gs, 0.25),
                      interleave_blocks("bottle", "self_attn", 2, 1, stage_kw(1024, 2, gs, 0.25)),
                      blk("self_attn", 2, 2048, 2, gs, 0.25)});
}

}  // namespace

void register_halonet(Registry& r) {
  const json halonet26t = full_cfg({{"blocks", halonet26t_like(0)},
                                    {"stem_chs", 64},
                                    {"stem_type", "tiered"},
                                    {"stem_pool", "maxpool"},
                                    {"self_attn_layer", "halo"},
                                    {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 2}}}});
  ModelFamily fam;
  fam.name = "halonet";
  fam.description = "HaloNet & timm self-attention hybrids: halo / bottleneck / lambda attention in a ByobNet "
                    "(Vaswani et al. 2021, arXiv 2103.12731; timm reference)";
  fam.default_args = {{"cfg", halonet26t},         {"num_classes", 1000},  {"in_chans", 3},
                      {"global_pool", nullptr},    {"output_stride", 32},  {"img_size", nullptr},
                      {"drop_rate", 0.0},          {"drop_block_rate", 0.0}, {"drop_block_size", 3},
                      {"drop_path_rate", 0.0},     {"zero_init_last", true}};
  for (const char* f : {"blocks", "downsample", "stem_type", "stem_pool", "stem_chs", "width_factor", "num_features",
                        "fixed_input_size", "act_layer", "norm_layer", "aa_layer", "head_hidden_size", "head_type",
                        "attn_layer", "attn_kwargs", "self_attn_layer", "self_attn_kwargs", "block_kwargs"})
    fam.default_args[f] = nullptr;  // overlays onto cfg when set
  fam.build = [](const json& args) -> ClassifierPtr { return ByobNet(byobnet_options_from_args(args)).ptr(); };
  fam.pretrained = byoa_pretrained(256, 0.95, "");
  r.add_family(fam);

  auto add = [&](const std::string& name, const json& cfg, const PretrainedCfg& pc, json extra = json::object()) {
    ModelVariant v;
    v.name = name;
    v.family = "halonet";
    v.args = {{"cfg", full_cfg(cfg)}};
    for (auto it = extra.begin(); it != extra.end(); ++it) v.args[it.key()] = it.value();
    v.pretrained = pc;
    r.add_variant(v);
  };

  add("halonet_h1",
      {{"blocks", json::array({blk("self_attn", 3, 64, 1, 0, 1.0), blk("self_attn", 3, 128, 2, 0, 1.0),
                               blk("self_attn", 10, 256, 2, 0, 1.0), blk("self_attn", 3, 512, 2, 0, 1.0)})},
       {"stem_chs", 64},
       {"stem_type", "7x7"},
       {"stem_pool", "maxpool"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.95, ""));
  add("halonet26t", halonet26t, byoa_pretrained(256, 0.95, "halonet26t_a1h_256-3083328c.pth"));
  add("sehalonet33ts",
      {{"blocks", json::array({blk("bottle", 2, 256, 1, 0, 0.25),
                               interleave_blocks("bottle", "self_attn", 3, json::array({2}), stage_kw(512, 2, 0, 0.25)),
                               interleave_blocks("bottle", "self_attn", 3, json::array({2}), stage_kw(1024, 2, 0, 0.25)),
                               blk("self_attn", 2, 1536, 2, 0, 0.333)})},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", ""},
       {"act_layer", "silu"},
       {"num_features", 1280},
       {"attn_layer", "se"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.94, "sehalonet33ts_256-87e053f9.pth"));
  add("halonet50ts",
      {{"blocks",
        json::array({blk("bottle", 3, 256, 1, 0, 0.25),
                     interleave_blocks("bottle", "self_attn", 4, 4,
                                       stage_kw(512, 2, 0, 0.25,
                                                {{"self_attn_layer", "halo"},
                                                 {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}, {"num_heads", 4}}}})),
                     interleave_blocks("bottle", "self_attn", 6, 1, stage_kw(1024, 2, 0, 0.25)),
                     interleave_blocks("bottle", "self_attn", 3, 1, stage_kw(2048, 2, 0, 0.25))})},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", "maxpool"},
       {"act_layer", "silu"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.94, "halonet50ts_a1h2_256-f3a3daee.pth"));
  add("eca_halonext26ts",
      {{"blocks", halonet26t_like(16)},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", "maxpool"},
       {"act_layer", "silu"},
       {"attn_layer", "eca"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 2}, {"dim_head", 16}}}},
      byoa_pretrained(256, 0.94, "eca_halonext26ts_c_256-06906299.pth"));
  PretrainedCfg regz = byoa_pretrained(224, 0.94, "haloregnetz_c_raa_256-c8ad7616.pth");
  regz.mean = {0.5, 0.5, 0.5};
  regz.std = {0.5, 0.5, 0.5};
  regz.first_conv = "stem.conv";
  add("haloregnetz_b",
      {{"blocks", json::array({blk("bottle", 2, 48, 2, 16, 3), blk("bottle", 6, 96, 2, 16, 3),
                               interleave_blocks("bottle", "self_attn", 12, 3, stage_kw(192, 2, 16, 3)),
                               blk("self_attn", 2, 288, 2, 16, 3)})},
       {"stem_chs", 32},
       {"stem_pool", ""},
       {"downsample", ""},
       {"num_features", 1536},
       {"act_layer", "silu"},
       {"attn_layer", "se"},
       {"attn_kwargs", {{"rd_ratio", 0.25}}},
       {"block_kwargs", {{"bottle_in", true}, {"linear_out", true}}},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 7}, {"halo_size", 2}, {"qk_ratio", 0.33}}}},
      regz);
  // The *_256 variants end in BoTNet attention over the whole 8x8 map: built for a fixed 256x256 input
  // (timm passes img_size from the pretrained cfg's fixed_input_size).
  auto botnet50_like = [&](const json& stage2) {
    return json{{"blocks",
                 json::array({blk("bottle", 3, 256, 1, 0, 0.25), stage2,
                              interleave_blocks("bottle", "self_attn", 6, 1,
                                                stage_kw(1024, 2, 0, 0.25,
                                                         {{"self_attn_layer", "halo"},
                                                          {"self_attn_kwargs", {{"halo_size", 3}}}})),
                              interleave_blocks("bottle", "self_attn", 3, 1,
                                                stage_kw(2048, 2, 0, 0.25,
                                                         {{"self_attn_layer", "bottleneck"},
                                                          {"self_attn_kwargs", json::object()}}))})},
                {"stem_chs", 64},
                {"stem_type", "tiered"},
                {"stem_pool", ""},
                {"act_layer", "silu"}};
  };
  add("lamhalobotnet50ts_256",
      botnet50_like(interleave_blocks("bottle", "self_attn", 4, 1,
                                      stage_kw(512, 2, 0, 0.25,
                                               {{"self_attn_layer", "lambda"}, {"self_attn_kwargs", {{"r", 13}}}}))),
      byoa_pretrained(256, 0.95, "lamhalobotnet50ts_a1h2_256-fe3d9445.pth", true), {{"img_size", 256}});
  add("halo2botnet50ts_256",
      botnet50_like(interleave_blocks("bottle", "self_attn", 4, 1,
                                      stage_kw(512, 2, 0, 0.25,
                                               {{"self_attn_layer", "halo"}, {"self_attn_kwargs", {{"halo_size", 3}}}}))),
      byoa_pretrained(256, 0.95, "halo2botnet50ts_a1h2_256-fd9c11a3.pth", true), {{"img_size", 256}});
}

}  // namespace attnzoo::models
