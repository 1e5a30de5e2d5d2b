// timm's ByobNet: stem, stages of ByobNet blocks, final conv, classifier head.
#include <attnzoo/models/byobnet.h>

#include <attnzoo/core/args.h>
#include <attnzoo/modules/drop_path.h>

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

namespace {

// One block's options: the stage config, the model's layers, then block_kwargs (per block, else the model's).
modules::ByobBlockOptions block_options(const ByoModelCfg& cfg, const ByoBlockCfg& b, int64_t in_chs, int64_t out_chs,
                                        int64_t stride, double drop_path_rate, const std::vector<int64_t>& feat,
                                        const std::string& where) {
  modules::ByobBlockOptions bo(in_chs, out_chs);
  bo.stride(stride)
      .group_size(b.gs)
      .bottle_ratio(b.br)
      .downsample(modules::byob_downsample_from_name(cfg.downsample, where))
      .drop_path_rate(drop_path_rate)
      .layers(block_layers(cfg, b))
      .attn_last(b.type == "basic");  // the blocks' own defaults
  if (b.type == "self_attn") bo.feat_size(feat);
  const json bkw = b.block_kwargs.is_null() ? cfg.block_kwargs : b.block_kwargs;
  ArgReader a(bkw, where);
  bo.kernel_size(a.get("kernel_size", bo.kernel_size()))
      .attn_last(a.get("attn_last", bo.attn_last()))
      .linear_out(a.get("linear_out", bo.linear_out()))
      .extra_conv(a.get("extra_conv", bo.extra_conv()))
      .bottle_in(a.get("bottle_in", bo.bottle_in()))
      .post_attn_na(a.get("post_attn_na", bo.post_attn_na()));
  a.finish();
  return bo;
}

// timm _init_weights (depth first): conv N(0, sqrt(2 / fan_out)), Linear N(0, .01), BN 1 / 0, then each
// block's init_weights (zero-init of the last BN, attention layers' own init).
void timm_init_weights(nn::Module& net, const std::vector<std::vector<std::shared_ptr<modules::ByobBlockBase>>>& blocks,
                       bool zero_init_last) {
  torch::NoGradGuard ng;
  for (auto& m : net.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      const auto& k = conv->options.kernel_size();
      const double fan_out = static_cast<double>(k->at(0) * k->at(1) * conv->options.out_channels() /
                                                 conv->options.groups());
      conv->weight.normal_(0.0, std::sqrt(2.0 / fan_out));
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* lin = m->as<nn::Linear>()) {
      lin->weight.normal_(0.0, 0.01);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* bn = m->as<modules::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
  for (auto& st : blocks)
    for (auto& b : st) b->init_weights(zero_init_last);
}

}  // namespace

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
      const auto bo = block_options(cfg, b, prev_chs, out_chs, block_stride, rates[static_cast<size_t>(global)], feat,
                                    "block_kwargs of stage " + std::to_string(si) + " block " + std::to_string(bi));
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
    // timm's feature_info: the last feature is final_conv's output.
    feature_info_.back() = {num_features_, feature_info_.back().reduction, "final_conv"};
  } else {
    num_features_ = prev_chs;
  }
  head_name_ = "head.fc";
  reset_classifier(o.num_classes());

  timm_init_weights(*this, blocks, o.zero_init_last());
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
  return finish_features(y);
}

at::Tensor ByobNetImpl::finish_features(const at::Tensor& last_stage_output) {
  return final_conv ? final_conv(last_stage_output) : last_stage_output;
}

std::vector<at::Tensor> ByobNetImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> out;
  StageSink sink(&out, last_stage);
  at::Tensor y = run_stem(x);
  for (auto& st : blocks) {
    for (auto& b : st) y = b->forward(y);
    if (sink.add(y)) break;
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

const std::vector<std::string>& byo_model_cfg_overlay_fields() {
  static const std::vector<std::string> fields = {
      "blocks",     "downsample", "stem_type",        "stem_pool",  "stem_chs",        "width_factor",
      "num_features", "fixed_input_size", "act_layer", "norm_layer", "aa_layer",       "head_hidden_size",
      "head_type",  "attn_layer", "attn_kwargs",      "self_attn_layer", "self_attn_kwargs", "block_kwargs"};
  return fields;
}

ByobNetOptions byobnet_options_from_args(const json& args) {
  ArgReader a(args, "halonet");
  ByobNetOptions o;
  json cfg = a.get<json>("cfg");
  if (!cfg.is_object()) throw std::invalid_argument("halonet: 'cfg' must be a ByoModelCfg object");
  // Top-level ByoModelCfg fields overlay cfg, as timm's ByobNet(**kwargs) does.
  for (const std::string& f : byo_model_cfg_overlay_fields()) {
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

}  // namespace attnzoo::models
