#include <attnzoo/modules/byobnet.h>

#include <attnzoo/core/args.h>
#include <attnzoo/modules/bottleneck_attn.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/squeeze_excite.h>

#include <torch/torch.h>

#include <stdexcept>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// timm DownsampleAvg ('D'-ResNet shortcut): AvgPool 2x2 (ceil, no padded zeros) -> 1x1 ConvNormAct.
class DownsampleAvgImpl : public nn::Module {
 public:
  DownsampleAvgImpl(int64_t in_chs, int64_t out_chs, int64_t stride, const std::string& act) : stride_(stride) {
    conv = register_module("conv", ConvNormAct(ConvNormActOptions(in_chs, out_chs, 1).apply_act(false).act_layer(act)));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = x;
    if (stride_ > 1)
      y = F::avg_pool2d(y, F::AvgPool2dFuncOptions(2).stride(stride_).ceil_mode(true).count_include_pad(false));
    return conv(y);
  }
  ConvNormAct conv{nullptr};

 private:
  int64_t stride_;
};

int64_t num_groups(int64_t group_size, int64_t channels) {
  if (group_size <= 0) return 1;
  TORCH_CHECK(channels % group_size == 0, "ByobNet block: ", channels, " channels are not divisible by group size ",
              group_size);
  return channels / group_size;
}

int64_t mid_channels(const ByobBlockOptions& o) {
  return make_divisible(static_cast<double>(o.bottle_in() ? o.in_chs() : o.out_chs()) * o.bottle_ratio());
}

ConvNormActOptions cna(const ByobBlockOptions& o, int64_t in, int64_t out, int64_t k) {
  return ConvNormActOptions(in, out, k).act_layer(o.layers().act_layer);
}

nn::AnyModule maybe_channel_attn(const ByobLayers& l, int64_t channels) {
  if (l.attn_layer.empty()) return {};
  return make_channel_attn(l.attn_layer, l.attn_kwargs, channels);
}

}  // namespace

namespace {

// A layer's timm kwargs plus the arguments its block passes itself (which the kwargs may not repeat).
nlohmann::json with_block_args(const nlohmann::json& kwargs, const std::string& owner, const nlohmann::json& block_args) {
  nlohmann::json args = kwargs.is_null() ? nlohmann::json::object() : kwargs;
  if (!args.is_object()) throw std::invalid_argument(owner + ": kwargs must be an object");
  for (const auto& [key, value] : block_args.items()) {
    if (args.contains(key)) throw std::invalid_argument(owner + ": '" + key + "' is passed by the block, not by kwargs");
    args[key] = value;
  }
  return args;
}

}  // namespace

nn::AnyModule make_channel_attn(const std::string& name, const nlohmann::json& kwargs, int64_t channels) {
  const std::string owner = "attn_layer '" + name + "'";
  const nlohmann::json args = with_block_args(kwargs, owner, {{"channels", channels}});
  if (name == "se") return nn::AnyModule(SEModule(options_from_args(args, owner, SEModuleOptions(0))));
  if (name == "eca") return nn::AnyModule(EcaModule(options_from_args(args, owner, EcaModuleOptions(0))));
  throw std::invalid_argument("unknown attn_layer '" + name + "' (known: se, eca)");
}

nn::AnyModule make_self_attn(const std::string& name, const nlohmann::json& kwargs, int64_t dim, int64_t stride,
                             const std::vector<int64_t>& feat_size) {
  const std::string owner = "self_attn_layer '" + name + "'";
  nlohmann::json kw = kwargs.is_null() ? nlohmann::json::object() : kwargs;
  if (kw.is_object()) kw.erase("feat_size");  // the block passes it, from the model's img_size
  nlohmann::json block_args = {{"dim", dim}, {"stride", stride}};
  if (feat_size.size() == 2) block_args["feat_size"] = feat_size;
  const nlohmann::json args = with_block_args(kw, owner, block_args);
  if (name == "halo") return nn::AnyModule(HaloAttention(options_from_args(args, owner, HaloAttentionOptions(0))));
  if (name == "bottleneck") {
    if (feat_size.size() != 2)
      throw std::invalid_argument("self_attn_layer 'bottleneck' needs the feature map size: build the model with img_size");
    return nn::AnyModule(BottleneckAttention(options_from_args(args, owner, BottleneckAttentionOptions(0, {}))));
  }
  if (name == "lambda") {
    const auto o = options_from_args(args, owner, LambdaLayerOptions(0));
    if (o.r() <= 0 && o.feat_size().size() != 2)
      throw std::invalid_argument("self_attn_layer 'lambda' with r=None needs the feature map size: build with img_size");
    return nn::AnyModule(LambdaLayer(o));
  }
  throw std::invalid_argument("unknown self_attn_layer '" + name + "' (known: halo, bottleneck, lambda)");
}

ByobDownsample byob_downsample_from_name(const std::string& name, const std::string& where) {
  for (const auto& [text, mode] : kByobDownsampleNames)
    if (text == name) return mode;
  throw std::invalid_argument(where + ": downsample must be 'avg', 'conv1x1' or '', got '" + name + "'");
}

ByobLayers byob_layers_from_json(const nlohmann::json& layer_cfg) {
  ArgReader l(layer_cfg, "layer_cfg");
  ByobLayers layers;
  layers.act_layer = l.get<std::string>("act_layer", layers.act_layer);
  if (l.get<std::string>("norm_layer", "batchnorm") != "batchnorm")
    throw std::invalid_argument("layer_cfg: only norm_layer 'batchnorm' is supported");
  layers.attn_layer = l.get<std::string>("attn_layer", "");
  layers.attn_kwargs = l.get<nlohmann::json>("attn_kwargs", nlohmann::json::object());
  layers.self_attn_layer = l.get<std::string>("self_attn_layer", "");
  layers.self_attn_kwargs = l.get<nlohmann::json>("self_attn_kwargs", nlohmann::json::object());
  l.finish();
  return layers;
}

void to_json(nlohmann::json& j, const ByobLayers& layers) {
  j = {{"act_layer", layers.act_layer},
       {"norm_layer", "batchnorm"},
       {"attn_layer", layers.attn_layer},
       {"attn_kwargs", layers.attn_kwargs},
       {"self_attn_layer", layers.self_attn_layer},
       {"self_attn_kwargs", layers.self_attn_kwargs}};
}

void ByobBlockBase::make_shortcut() {
  const auto& o = options;
  const ByobDownsample ds = o.downsample();
  if (o.in_chs() != o.out_chs() || o.stride() != 1) {
    if (ds == ByobDownsample::None) {
      has_shortcut_ = false;  // timm: no residual at all for this block
    } else if (ds == ByobDownsample::Avg) {
      shortcut_ = nn::AnyModule(register_module(
          "shortcut", std::make_shared<DownsampleAvgImpl>(o.in_chs(), o.out_chs(), o.stride(), o.layers().act_layer)));
    } else {
      shortcut_ = nn::AnyModule(register_module(
          "shortcut",
          ConvNormAct(ConvNormActOptions(o.in_chs(), o.out_chs(), 1).stride(o.stride()).apply_act(false).act_layer(
              o.layers().act_layer))));
    }
  }
  if (o.drop_path_rate() > 0) drop_path_ = register_module("drop_path", DropPath(o.drop_path_rate()));
}

at::Tensor ByobBlockBase::finish(const at::Tensor& branch, const at::Tensor& input) {
  at::Tensor y = drop_path_ ? drop_path_(branch) : branch;
  if (has_shortcut_) y = y + (shortcut_.is_empty() ? input : shortcut_.forward(input));
  return options.linear_out() ? y : apply_activation(y, options.layers().act_layer);
}

BottleneckBlockImpl::BottleneckBlockImpl(const ByobBlockOptions& o) : ByobBlockBase(o) {
  check_activation(o.layers().act_layer, "BottleneckBlock");
  const int64_t mid = mid_channels(o), groups = num_groups(o.group_size(), mid), k = o.kernel_size();
  make_shortcut();
  conv1_1x1 = register_module("conv1_1x1", ConvNormAct(cna(o, o.in_chs(), mid, 1)));
  conv2_kxk = register_module("conv2_kxk", ConvNormAct(cna(o, mid, mid, k).stride(o.stride()).groups(groups)));
  if (o.extra_conv()) conv2b_kxk = register_module("conv2b_kxk", ConvNormAct(cna(o, mid, mid, k).groups(groups)));
  if (!o.attn_last()) {
    attn = maybe_channel_attn(o.layers(), mid);
    if (!attn.is_empty()) register_module("attn", attn.ptr());
  }
  conv3_1x1 = register_module("conv3_1x1", ConvNormAct(cna(o, mid, o.out_chs(), 1).apply_act(false)));
  if (o.attn_last()) {
    attn_last = maybe_channel_attn(o.layers(), o.out_chs());
    if (!attn_last.is_empty()) register_module("attn_last", attn_last.ptr());
  }
}

at::Tensor BottleneckBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = conv2_kxk(conv1_1x1(x));
  if (conv2b_kxk) y = conv2b_kxk(y);
  if (!attn.is_empty()) y = attn.forward(y);
  y = conv3_1x1(y);
  if (!attn_last.is_empty()) y = attn_last.forward(y);
  return finish(y, x);
}

void BottleneckBlockImpl::init_weights(bool zero_init_last) {
  torch::NoGradGuard ng;
  if (zero_init_last && has_shortcut_) conv3_1x1->bn->weight.zero_();
}

BasicBlockImpl::BasicBlockImpl(const ByobBlockOptions& o) : ByobBlockBase(o) {
  check_activation(o.layers().act_layer, "BasicBlock");
  const int64_t mid = mid_channels(o), groups = num_groups(o.group_size(), mid), k = o.kernel_size();
  make_shortcut();
  conv1_kxk = register_module("conv1_kxk", ConvNormAct(cna(o, o.in_chs(), mid, k).stride(o.stride())));
  // timm's BasicBlock defaults to attn_last=True.
  if (!o.attn_last()) {
    attn = maybe_channel_attn(o.layers(), mid);
    if (!attn.is_empty()) register_module("attn", attn.ptr());
  }
  conv2_kxk = register_module("conv2_kxk", ConvNormAct(cna(o, mid, o.out_chs(), k).groups(groups).apply_act(false)));
  if (o.attn_last()) {
    attn_last = maybe_channel_attn(o.layers(), o.out_chs());
    if (!attn_last.is_empty()) register_module("attn_last", attn_last.ptr());
  }
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = conv1_kxk(x);
  if (!attn.is_empty()) y = attn.forward(y);
  y = conv2_kxk(y);
  if (!attn_last.is_empty()) y = attn_last.forward(y);
  return finish(y, x);
}

void BasicBlockImpl::init_weights(bool zero_init_last) {
  torch::NoGradGuard ng;
  if (zero_init_last && has_shortcut_) conv2_kxk->bn->weight.zero_();
}

SelfAttnBlockImpl::SelfAttnBlockImpl(const ByobBlockOptions& o) : ByobBlockBase(o) {
  check_activation(o.layers().act_layer, "SelfAttnBlock");
  if (o.layers().self_attn_layer.empty())
    throw std::invalid_argument("SelfAttnBlock: no self_attn_layer configured (halo, bottleneck or lambda)");
  const int64_t mid = mid_channels(o), groups = num_groups(o.group_size(), mid);
  make_shortcut();
  conv1_1x1 = register_module("conv1_1x1", ConvNormAct(cna(o, o.in_chs(), mid, 1)));
  int64_t attn_stride = o.stride();
  if (o.extra_conv()) {
    conv2_kxk = register_module("conv2_kxk",
                                ConvNormAct(cna(o, mid, mid, o.kernel_size()).stride(o.stride()).groups(groups)));
    attn_stride = 1;  // the conv strides instead
  }
  self_attn = make_self_attn(o.layers().self_attn_layer, o.layers().self_attn_kwargs, mid, attn_stride, o.feat_size());
  register_module("self_attn", self_attn.ptr());
  if (o.post_attn_na()) post_attn = register_module("post_attn", BatchNormAct2d(mid, o.layers().act_layer));
  conv3_1x1 = register_module("conv3_1x1", ConvNormAct(cna(o, mid, o.out_chs(), 1).apply_act(false)));
}

at::Tensor SelfAttnBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = conv1_1x1(x);
  if (conv2_kxk) y = conv2_kxk(y);
  y = self_attn.forward(y);
  if (post_attn) y = post_attn(y);
  return finish(conv3_1x1(y), x);
}

void SelfAttnBlockImpl::init_weights(bool zero_init_last) {
  torch::NoGradGuard ng;
  if (zero_init_last && has_shortcut_) conv3_1x1->bn->weight.zero_();
  auto p = self_attn.ptr();
  if (auto h = std::dynamic_pointer_cast<HaloAttentionImpl>(p)) h->reset_parameters();
  if (auto b = std::dynamic_pointer_cast<BottleneckAttentionImpl>(p)) b->reset_parameters();
  if (auto l = std::dynamic_pointer_cast<LambdaLayerImpl>(p)) l->reset_parameters();
}

std::shared_ptr<ByobBlockBase> make_byob_block(const std::string& type, const ByobBlockOptions& options) {
  if (type == "bottle") return std::make_shared<BottleneckBlockImpl>(options);
  if (type == "self_attn") return std::make_shared<SelfAttnBlockImpl>(options);
  if (type == "basic") return std::make_shared<BasicBlockImpl>(options);
  throw std::invalid_argument("unknown ByobNet block type '" + type + "' (supported: bottle, basic, self_attn)");
}

void register_halonet_modules(ModuleEntries& e) {
  // HaloNet / timm byoanet: the attention layers under timm's constructor arguments.
  e.push_back(module_entry<HaloAttention>("halonet", "HaloAttn", "attnzoo::modules::HaloAttention",
                                          "halo attention: blocked local self-attention with halo windows + relative logits (NCHW)",
                                          HaloAttentionOptions(0)));
  e.push_back(module_entry<BottleneckAttention>(
      "halonet", "BottleneckAttn", "attnzoo::modules::BottleneckAttention",
      "BoTNet global self-attention with relative logits over a fixed feat_size (NCHW)", BottleneckAttentionOptions(0, {})));
  e.push_back(module_entry<LambdaLayer>("halonet", "LambdaLayer", "attnzoo::modules::LambdaLayer",
                                        "LambdaNetworks lambda layer (content + local positional lambdas, NCHW)",
                                        LambdaLayerOptions(0)));
  e.push_back(module_entry<SelfAttnBlock>("halonet", "SelfAttnBlock", "attnzoo::modules::SelfAttnBlock",
                                         "ByobNet self-attention bottleneck: 1x1 -> self-attn -> BN+act -> 1x1 + shortcut",
                                         ByobBlockOptions(0, 0)));
  e.push_back(module_entry<BottleneckBlock>("halonet", "BottleneckBlock", "attnzoo::modules::BottleneckBlock",
                                           "ByobNet ResNet bottleneck: 1x1 -> kxk (groups) -> [SE/ECA] -> 1x1 + shortcut",
                                           ByobBlockOptions(0, 0)));
}

}  // namespace attnzoo::modules
