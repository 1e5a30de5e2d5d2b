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

nn::AnyModule make_channel_attn(const std::string& name, const nlohmann::json& kwargs, int64_t channels) {
  ArgReader a(kwargs, "attn_layer '" + name + "'");
  if (name == "se") {
    SEModuleOptions o(channels);
    o.rd_ratio(a.get("rd_ratio", o.rd_ratio()))
        .rd_channels(a.get("rd_channels", o.rd_channels()))
        .rd_divisor(a.get("rd_divisor", o.rd_divisor()))
        .bias(a.get("bias", o.bias()))
        .act_layer(a.get("act_layer", o.act_layer()));
    a.finish();
    return nn::AnyModule(SEModule(o));
  }
  if (name == "eca") {
    EcaModuleOptions o(channels);
    o.kernel_size(a.get("kernel_size", o.kernel_size())).gamma(a.get("gamma", o.gamma())).beta(a.get("beta", o.beta()));
    a.finish();
    return nn::AnyModule(EcaModule(o));
  }
  throw std::invalid_argument("unknown attn_layer '" + name + "' (known: se, eca)");
}

nn::AnyModule make_self_attn(const std::string& name, const nlohmann::json& kwargs, int64_t dim, int64_t stride,
                             const std::vector<int64_t>& feat_size) {
  ArgReader a(kwargs, "self_attn_layer '" + name + "'");
  a.ignore("feat_size");  // passed by the block, from the model's img_size
  if (name == "halo") {
    HaloAttentionOptions o(dim);
    o.stride(stride)
        .dim_out(a.get<int64_t>("dim_out", 0))
        .num_heads(a.get("num_heads", o.num_heads()))
        .dim_head(a.get<int64_t>("dim_head", 0))
        .block_size(a.get("block_size", o.block_size()))
        .halo_size(a.get("halo_size", o.halo_size()))
        .qk_ratio(a.get("qk_ratio", o.qk_ratio()))
        .qkv_bias(a.get("qkv_bias", o.qkv_bias()))
        .avg_down(a.get("avg_down", o.avg_down()))
        .scale_pos_embed(a.get("scale_pos_embed", o.scale_pos_embed()));
    a.finish();
    return nn::AnyModule(HaloAttention(o));
  }
  if (name == "bottleneck") {
    if (feat_size.size() != 2)
      throw std::invalid_argument(
          "self_attn_layer 'bottleneck' needs the feature map size: build the model with img_size");
    BottleneckAttentionOptions o(dim, feat_size);
    o.stride(stride)
        .dim_out(a.get<int64_t>("dim_out", 0))
        .num_heads(a.get("num_heads", o.num_heads()))
        .dim_head(a.get<int64_t>("dim_head", 0))
        .qk_ratio(a.get("qk_ratio", o.qk_ratio()))
        .qkv_bias(a.get("qkv_bias", o.qkv_bias()))
        .scale_pos_embed(a.get("scale_pos_embed", o.scale_pos_embed()));
    a.finish();
    return nn::AnyModule(BottleneckAttention(o));
  }
  if (name == "lambda") {
    LambdaLayerOptions o(dim);
    o.stride(stride)
        .feat_size(feat_size)
        .dim_out(a.get<int64_t>("dim_out", 0))
        .num_heads(a.get("num_heads", o.num_heads()))
        .dim_head(a.get("dim_head", o.dim_head()))
        .r(a.has("r") && a.get<nlohmann::json>("r").is_null() ? 0 : a.get("r", o.r()))
        .qk_ratio(a.get("qk_ratio", o.qk_ratio()))
        .qkv_bias(a.get("qkv_bias", o.qkv_bias()));
    a.finish();
    if (o.r() <= 0 && feat_size.size() != 2)
      throw std::invalid_argument("self_attn_layer 'lambda' with r=None needs the feature map size: build with img_size");
    return nn::AnyModule(LambdaLayer(o));
  }
  throw std::invalid_argument("unknown self_attn_layer '" + name + "' (known: halo, bottleneck, lambda)");
}

void ByobBlockBase::make_shortcut() {
  const auto& o = options;
  const auto& ds = o.downsample();
  if (ds != "avg" && ds != "conv1x1" && !ds.empty())
    throw std::invalid_argument("ByobNet block: downsample must be 'avg', 'conv1x1' or '', got '" + ds + "'");
  if (o.in_chs() != o.out_chs() || o.stride() != 1) {
    if (ds.empty()) {
      has_shortcut_ = false;  // timm: no residual at all for this block
    } else if (ds == "avg") {
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
  // HaloNet / timm byoanet: attention layers take timm's keyword arguments (dim and stride explicit).
  auto self_attn_entry = [&e](const char* official, const char* layer, const char* cpp, const char* desc) {
    e.push_back({"halonet", official, cpp, desc, [official, layer](const nlohmann::json& c) {
                   nlohmann::json kw = c;
                   const std::string owner = std::string("halonet.") + official;
                   if (!kw.is_object() || !kw.contains("dim")) throw std::invalid_argument(owner + ": missing required argument 'dim'");
                   const auto dim = kw.at("dim").get<int64_t>();
                   const auto stride = kw.value("stride", int64_t{1});
                   kw.erase("dim");
                   kw.erase("stride");
                   std::vector<int64_t> feat;
                   if (kw.contains("feat_size") && !kw.at("feat_size").is_null()) {
                     const auto& f = kw.at("feat_size");
                     feat = f.is_array() ? f.get<std::vector<int64_t>>() : std::vector<int64_t>{f.get<int64_t>(), f.get<int64_t>()};
                   }
                   torch::nn::AnyModule m = make_self_attn(layer, kw, dim, stride, feat);
                   BuiltModule b;
                   b.module = m.ptr();
                   b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
                     TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                     return std::vector<at::Tensor>{m.forward(in[0])};
                   };
                   return b;
                 }});
  };
  self_attn_entry("HaloAttn", "halo", "attnzoo::modules::HaloAttention",
                  "halo attention: blocked local self-attention with halo windows + relative logits (NCHW)");
  self_attn_entry("BottleneckAttn", "bottleneck", "attnzoo::modules::BottleneckAttention",
                  "BoTNet global self-attention with relative logits over a fixed feat_size (NCHW)");
  self_attn_entry("LambdaLayer", "lambda", "attnzoo::modules::LambdaLayer",
                  "LambdaNetworks lambda layer (content + local positional lambdas, NCHW)");
  auto block_entry = [&e](const char* official, const char* type, const char* cpp, const char* desc) {
    e.push_back({"halonet", official, cpp, desc, [official, type](const nlohmann::json& c) {
                   ArgReader a(c, std::string("halonet.") + official);
                   ByobBlockOptions o(a.get<int64_t>("in_chs"), a.get<int64_t>("out_chs"));
                   o.kernel_size(a.get("kernel_size", o.kernel_size()))
                       .stride(a.get("stride", o.stride()))
                       .group_size(a.get("group_size", o.group_size()))
                       .bottle_ratio(a.get("bottle_ratio", o.bottle_ratio()))
                       .downsample(a.get<std::string>("downsample", "avg"))
                       .attn_last(a.get("attn_last", std::string(type) == "basic"))
                       .linear_out(a.get("linear_out", o.linear_out()))
                       .extra_conv(a.get("extra_conv", o.extra_conv()))
                       .bottle_in(a.get("bottle_in", o.bottle_in()))
                       .post_attn_na(a.get("post_attn_na", o.post_attn_na()))
                       .feat_size(a.get("feat_size", o.feat_size()))
                       .drop_path_rate(a.get("drop_path_rate", o.drop_path_rate()));
                   // layer_cfg: the ByoModelCfg fields timm's get_layer_fns reads.
                   const nlohmann::json layer_cfg = a.get<nlohmann::json>("layer_cfg", nlohmann::json::object());
                   ArgReader l(layer_cfg, "layer_cfg");  // ArgReader keeps a reference: no temporaries
                   ByobLayers layers;
                   layers.act_layer = l.get<std::string>("act_layer", "relu");
                   if (l.get<std::string>("norm_layer", "batchnorm") != "batchnorm")
                     throw std::invalid_argument("layer_cfg: only norm_layer 'batchnorm' is supported");
                   layers.attn_layer = l.get<std::string>("attn_layer", "");
                   layers.attn_kwargs = l.get<nlohmann::json>("attn_kwargs", nlohmann::json::object());
                   layers.self_attn_layer = l.get<std::string>("self_attn_layer", "");
                   layers.self_attn_kwargs = l.get<nlohmann::json>("self_attn_kwargs", nlohmann::json::object());
                   l.finish();
                   o.layers(layers);
                   a.finish();
                   auto block = make_byob_block(type, o);
                   BuiltModule b;
                   b.module = block;
                   b.forward = [block](const std::vector<at::Tensor>& in, const nlohmann::json&) {
                     TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                     return std::vector<at::Tensor>{block->forward(in[0])};
                   };
                   return b;
                 }});
  };
  block_entry("SelfAttnBlock", "self_attn", "attnzoo::modules::SelfAttnBlock",
              "ByobNet self-attention bottleneck: 1x1 -> self-attn -> BN+act -> 1x1 + shortcut");
  block_entry("BottleneckBlock", "bottle", "attnzoo::modules::BottleneckBlock",
              "ByobNet ResNet bottleneck: 1x1 -> kxk (groups) -> [SE/ECA] -> 1x1 + shortcut");
}

}  // namespace attnzoo::modules
