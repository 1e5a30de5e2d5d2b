#include <attnzoo/modules/van.h>

#include <attnzoo/modules/activation.h>
#include <attnzoo/modules/attention_capture.h>
#include <attnzoo/modules/depthwise.h>

#include <torch/nn/functional/activation.h>
#include <torch/torch.h>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

namespace {
// VAN's "attention" is the map that multiplies x: drawn as the mean over 4 equal groups of channels (no query).
void set_lka_geometry(AttentionRecord& r) {
  const at::Tensor w = r.weights;
  const int64_t C = w.size(1), groups = std::min<int64_t>(4, C);
  r.key_grid = {w.size(2), w.size(3)};
  for (int64_t g = 0; g < groups; ++g)
    r.head_labels.push_back("channels " + std::to_string(g * C / groups) + "-" + std::to_string((g + 1) * C / groups - 1));
  r.query_map = [w, groups](int64_t b, int64_t, int64_t) {
    const at::Tensor m = w[b].to(torch::kCPU, torch::kFloat64);
    std::vector<at::Tensor> parts;
    for (int64_t g = 0; g < groups; ++g)
      parts.push_back(m.narrow(0, g * m.size(0) / groups, (g + 1) * m.size(0) / groups - g * m.size(0) / groups).mean(0));
    return torch::stack(parts);
  };
}
}  // namespace

LKAImpl::LKAImpl(const LKAOptions& options_) : options(options_) { reset(); }

void LKAImpl::reset() {
  const int64_t d = options.dim();
  const int64_t k0 = options.kernel_size();
  const int64_t k1 = options.dilated_kernel_size();
  const int64_t dil = options.dilation();
  conv0 = register_module("conv0", nn::Conv2d(nn::Conv2dOptions(d, d, k0).padding(k0 / 2).groups(d)));
  // padding = dilation * (k - 1) / 2 keeps the size ("same"): 9 for 7x7 dilation 3.
  conv_spatial = register_module(
      "conv_spatial", nn::Conv2d(nn::Conv2dOptions(d, d, k1).padding(dil * (k1 - 1) / 2).dilation(dil).groups(d)));
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(d, d, 1)));
}

at::Tensor LKAImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.dim(), "LKA: expected input [B, ", options.dim(),
              ", H, W], got ", x.sizes());
  // Depthwise convs through the tap-skipping helper (exact; faster on small maps).
  const auto& o0 = conv0->options;
  const auto& os = conv_spatial->options;
  at::Tensor a = depthwise_conv2d(x, conv0->weight, conv0->bias, {o0.kernel_size()->at(0) / 2, o0.kernel_size()->at(1) / 2},
                                  {1, 1});
  const int64_t d = options.dilation();
  a = depthwise_conv2d(a, conv_spatial->weight, conv_spatial->bias,
                       {d * (os.kernel_size()->at(0) - 1) / 2, d * (os.kernel_size()->at(1) - 1) / 2}, {d, d});
  const at::Tensor attn = conv1(a);
  if (AttentionRecord* r = record_attention(this, "lka", attn)) set_lka_geometry(*r);
  return x * attn;
}

LKAAttentionImpl::LKAAttentionImpl(const LKAAttentionOptions& options_) : options(options_) { reset(); }

void LKAAttentionImpl::reset() {
  const int64_t d = options.d_model();
  proj_1 = register_module("proj_1", nn::Conv2d(nn::Conv2dOptions(d, d, 1)));
  spatial_gating_unit = register_module("spatial_gating_unit", LKA(LKAOptions(d)));
  proj_2 = register_module("proj_2", nn::Conv2d(nn::Conv2dOptions(d, d, 1)));
}

at::Tensor LKAAttentionImpl::forward(const at::Tensor& x) {
  return proj_2(spatial_gating_unit(modules::gelu(proj_1(x)))) + x;
}

VANBlockImpl::VANBlockImpl(const VANBlockOptions& options_) : options(options_) { reset(); }

void VANBlockImpl::reset() {
  const int64_t d = options.dim();
  layer_scale_1 = register_parameter("layer_scale_1", torch::full({d}, options.layer_scale_init_value()));
  layer_scale_2 = register_parameter("layer_scale_2", torch::full({d}, options.layer_scale_init_value()));
  norm1 = register_module("norm1", BatchNorm2d(d));
  attn = register_module("attn", LKAAttention(LKAAttentionOptions(d)));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", BatchNorm2d(d));
  mlp = register_module("mlp", DWConvMlp(DWConvMlpOptions(d)
                                             .hidden_features(static_cast<int64_t>(d * options.mlp_ratio()))
                                             .drop(options.drop())));
}

at::Tensor VANBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = x + drop_path(layer_scale_1.view({-1, 1, 1}) * attn(norm1(x)));
  return y + drop_path(layer_scale_2.view({-1, 1, 1}) * mlp(norm2(y)));
}

void register_van_modules(ModuleEntries& e) {
  e.push_back(module_entry<LKA>("van", "LKA", "attnzoo::modules::LKA",
                                "Large Kernel Attention (depthwise 5x5 + dilated 7x7 + 1x1 gate)", LKAOptions(0)));
  e.push_back(module_entry<LKAAttention>("van", "Attention", "attnzoo::modules::LKAAttention",
                                         "VAN spatial attention: proj_1 -> GELU -> LKA -> proj_2 + shortcut",
                                         LKAAttentionOptions(0)));
  e.push_back(module_entry<VANBlock>("van", "Block", "attnzoo::modules::VANBlock",
                                     "VAN block (BN, LKA attention, conv MLP, layer scale)", VANBlockOptions(0)));
}

}  // namespace attnzoo::modules
