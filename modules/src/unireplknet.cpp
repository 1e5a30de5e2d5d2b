#include <attnzoo/modules/unireplknet.h>

#include <attnzoo/modules/module_registry.h>

#include <torch/torch.h>

#include <string>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

std::vector<std::pair<int64_t, int64_t>> dilated_reparam_branches(int64_t kernel_size) {
  switch (kernel_size) {
    case 17: return {{5, 1}, {9, 2}, {3, 4}, {3, 5}, {3, 7}};
    case 15: return {{5, 1}, {7, 2}, {3, 3}, {3, 5}, {3, 7}};
    case 13: return {{5, 1}, {7, 2}, {3, 3}, {3, 4}, {3, 5}};
    case 11: return {{5, 1}, {5, 2}, {3, 3}, {3, 4}, {3, 5}};
    case 9: return {{5, 1}, {5, 2}, {3, 3}, {3, 4}};
    case 7: return {{5, 1}, {3, 2}, {3, 3}};
    case 5: return {{3, 1}, {3, 2}};
    default:
      throw std::invalid_argument("DilatedReparamBlock: kernel_size must be one of 5, 7, 9, 11, 13, 15, 17, got " +
                                  std::to_string(kernel_size));
  }
}

std::pair<at::Tensor, at::Tensor> fuse_conv_bn(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& running_mean,
                                               const at::Tensor& running_var, const at::Tensor& bn_weight,
                                               const at::Tensor& bn_bias, double eps) {
  const at::Tensor std = (running_var + eps).sqrt();
  std::vector<int64_t> shape(static_cast<size_t>(weight.dim()), 1);
  shape[0] = -1;
  const at::Tensor conv_bias = bias.defined() ? bias : torch::zeros_like(running_mean);
  return {weight * (bn_weight / std).reshape(shape), bn_bias + (conv_bias - running_mean) * bn_weight / std};
}

at::Tensor undilate_kernel(const at::Tensor& kernel, int64_t r, int64_t size) {
  const int64_t k = kernel.size(-1), eq = r * (k - 1) + 1, spatial = kernel.dim() - 2;
  TORCH_CHECK(eq <= size && (size - eq) % 2 == 0, "undilate_kernel: a ", k, "-tap kernel at dilation ", r,
              " does not centre in ", size, " taps");
  std::vector<int64_t> out_shape = kernel.sizes().vec();
  for (int64_t d = 0; d < spatial; ++d) out_shape[static_cast<size_t>(2 + d)] = size;
  at::Tensor out = torch::zeros(out_shape, kernel.options());
  // The taps land every r positions from the centred start (what conv_transpose with stride r produces).
  const int64_t start = (size - eq) / 2;
  at::Tensor view = out;
  for (int64_t d = 0; d < spatial; ++d) view = view.slice(2 + d, start, start + eq, r);
  view.copy_(kernel);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// GRN, SEBlock

void GRNImpl::reset() {
  gamma = register_parameter("gamma", torch::zeros({1, 1, 1, options.dim()}));
  if (options.use_bias()) beta = register_parameter("beta", torch::zeros({1, 1, 1, options.dim()}));
}

at::Tensor GRNImpl::forward(const at::Tensor& x) {
  const at::Tensor gx = torch::norm(x, 2, {1, 2}, /*keepdim=*/true);
  const at::Tensor nx = gx / (gx.mean(-1, true) + 1e-6);
  const at::Tensor y = (gamma * nx + 1) * x;
  return beta.defined() ? y + beta : y;
}

void GRNImpl::remove_bias() {
  parameters_.erase("beta");
  beta = at::Tensor();
  options.use_bias(false);
}

void SEBlockImpl::reset() {
  const int64_t c = options.input_channels(), n = options.internal_neurons();
  down = register_module("down", nn::Conv2d(nn::Conv2dOptions(c, n, 1)));
  up = register_module("up", nn::Conv2d(nn::Conv2dOptions(n, c, 1)));
}

at::Tensor SEBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor s = torch::sigmoid(up(torch::relu(down(torch::adaptive_avg_pool2d(x, {1, 1})))));
  return x * s.view({-1, options.input_channels(), 1, 1});
}

// ---------------------------------------------------------------------------------------------------------------
// DilatedReparamBlock (2-D and 1-D)

namespace {

/// The merged (kernel, bias) of a block's training form: each branch's BN folded, undilated, centred and summed.
template <class Conv, class BN>
std::pair<at::Tensor, at::Tensor> merged_kernel(Conv& lk_origin, BN& origin_bn, std::vector<std::pair<Conv, BN>>& branches,
                                                const std::vector<std::pair<int64_t, int64_t>>& table) {
  auto fuse = [](Conv& c, BN& bn) {
    return fuse_conv_bn(c->weight, c->bias, bn->running_mean, bn->running_var, bn->weight, bn->bias, bn->options.eps());
  };
  auto [kernel, bias] = fuse(lk_origin, origin_bn);
  const int64_t size = kernel.size(-1);
  for (size_t i = 0; i < branches.size(); ++i) {
    auto [k, b] = fuse(branches[i].first, branches[i].second);
    kernel = kernel + undilate_kernel(k, table[i].second, size);
    bias = bias + b;
  }
  return {kernel.detach(), bias.detach()};
}

}  // namespace

namespace {

/// The 1-D and 2-D blocks share everything but the conv / BN types (NATTEN-style thin specialisations).
/// Registration in the official order: lk_origin (biased in the deploy form), origin_bn, each branch's conv and BN.
template <class Conv, class ConvOptions, class BN, class Impl>
void build_reparam_block(Impl& m) {
  const int64_t C = m.options.channels(), k = m.options.kernel_size();
  const auto table = dilated_reparam_branches(k);
  m.lk_origin = m.register_module("lk_origin", Conv(ConvOptions(C, C, k).padding(k / 2).groups(C).bias(m.options.deploy())));
  m.branches.clear();
  if (m.options.deploy()) return;
  m.origin_bn = m.register_module("origin_bn", BN(C));
  for (const auto& [kb, r] : table) {
    const std::string tag = "k" + std::to_string(kb) + "_" + std::to_string(r);
    Conv conv = m.register_module(
        "dil_conv_" + tag, Conv(ConvOptions(C, C, kb).padding((r * (kb - 1) + 1) / 2).dilation(r).groups(C).bias(false)));
    BN bn = m.register_module("dil_bn_" + tag, BN(C));
    m.branches.emplace_back(conv, bn);
  }
}

template <class Impl>
at::Tensor run_reparam_block(Impl& m, const at::Tensor& x) {
  if (m.merged()) return m.lk_origin(x);
  at::Tensor out = m.origin_bn(m.lk_origin(x));
  for (auto& [conv, bn] : m.branches) out = out + bn(conv(x));
  return out;
}

template <class Conv, class ConvOptions, class Impl>
void merge_reparam_block(Impl& m) {
  if (m.merged()) return;
  const auto [kernel, bias] = merged_kernel(m.lk_origin, m.origin_bn, m.branches, dilated_reparam_branches(m.options.kernel_size()));
  for (const auto& name : m.named_children().keys()) m.unregister_module(name);
  const int64_t C = m.options.channels(), k = m.options.kernel_size();
  m.lk_origin = m.register_module("lk_origin", Conv(ConvOptions(C, C, k).padding(k / 2).groups(C).bias(true)));
  m.lk_origin->to(kernel.device(), kernel.scalar_type());  // a fresh module is float32 on the CPU
  torch::NoGradGuard ng;
  m.lk_origin->weight.copy_(kernel);
  m.lk_origin->bias.copy_(bias);
  m.origin_bn = nullptr;
  m.branches.clear();
  m.options.deploy(true);
}

}  // namespace

DilatedReparamBlockImpl::DilatedReparamBlockImpl(const DilatedReparamBlockOptions& o) : options(o) { reset(); }

void DilatedReparamBlockImpl::reset() { build_reparam_block<nn::Conv2d, nn::Conv2dOptions, BatchNorm2d>(*this); }

at::Tensor DilatedReparamBlockImpl::forward(const at::Tensor& x) { return run_reparam_block(*this, x); }

void DilatedReparamBlockImpl::merge_dilated_branches() { merge_reparam_block<nn::Conv2d, nn::Conv2dOptions>(*this); }

DilatedReparamBlock1DImpl::DilatedReparamBlock1DImpl(const DilatedReparamBlock1DOptions& o) : options(o) { reset(); }

void DilatedReparamBlock1DImpl::reset() { build_reparam_block<nn::Conv1d, nn::Conv1dOptions, nn::BatchNorm1d>(*this); }

at::Tensor DilatedReparamBlock1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.channels(), "DilatedReparamBlock1D: expected [B, L, ", options.channels(),
              "], got ", x.sizes());
  at::Tensor u = x;
  if (mask.defined()) {
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) && mask.scalar_type() == at::kBool,
                "DilatedReparamBlock1D: key padding mask must be bool [", x.size(0), ", ", x.size(1), "], got ", mask.sizes());
    u = u.masked_fill(mask.unsqueeze(-1), 0.0);
  }
  const at::Tensor out = run_reparam_block(*this, u.transpose(1, 2)).transpose(1, 2);
  return mask.defined() ? out.masked_fill(mask.unsqueeze(-1), 0.0) : out;
}

void DilatedReparamBlock1DImpl::merge_dilated_branches() { merge_reparam_block<nn::Conv1d, nn::Conv1dOptions>(*this); }

// ---------------------------------------------------------------------------------------------------------------
// UniRepLKNetBlock

UniRepLKNetBlockImpl::UniRepLKNetBlockImpl(const UniRepLKNetBlockOptions& o) : options(o) { reset(); }

void UniRepLKNetBlockImpl::reset() {
  const int64_t C = options.dim(), k = options.kernel_size(), ffn = static_cast<int64_t>(options.ffn_factor() * static_cast<double>(C));
  const bool deploy = options.deploy();
  TORCH_CHECK(k == 0 || k == 3 || k == 5 || k >= 7, "UniRepLKNetBlock: kernel_size must be 0, 3, 5 or >= 7, got ", k);
  if (!deploy && options.layer_scale_init_value() > 0)
    gamma = register_parameter("gamma", torch::full({C}, options.layer_scale_init_value()));
  if (k >= 7)
    dilated = register_module("dwconv", DilatedReparamBlock(DilatedReparamBlockOptions(C, k).deploy(deploy)));
  else if (k > 0)
    dwconv = register_module("dwconv", nn::Conv2d(nn::Conv2dOptions(C, C, k).padding(k / 2).groups(C).bias(deploy)));
  if (!deploy && k != 0) norm = register_module("norm", BatchNorm2d(C));
  se = register_module("se", SEBlock(C, C / 4));
  auto pwconv1 = register_module("pwconv1", std::make_shared<nn::Module>("Sequential"));
  fc1 = pwconv1->register_module("1", nn::Linear(C, ffn));  // index 0 is NCHWtoNHWC
  auto act = register_module("act", std::make_shared<nn::Module>("Sequential"));
  grn = act->register_module("1", GRN(GRNOptions(ffn).use_bias(!deploy)));  // index 0 is GELU
  pwconv2_ = register_module("pwconv2", std::make_shared<nn::Module>("Sequential"));
  fc2 = pwconv2_->register_module("0", nn::Linear(nn::LinearOptions(ffn, C).bias(deploy)));
  if (!deploy) fc2_norm = pwconv2_->register_module("2", BatchNorm2d(C));  // index 1 is NHWCtoNCHW
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
}

at::Tensor UniRepLKNetBlockImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.dim(), "UniRepLKNetBlock: expected [B, ", options.dim(), ", H, W], got ",
              x.sizes());
  at::Tensor y = dilated ? dilated(x) : dwconv ? dwconv(x) : x;
  if (norm) y = norm(y);
  y = se(y);
  y = grn(torch::gelu(fc1(y.permute({0, 2, 3, 1}))));
  y = fc2(y).permute({0, 3, 1, 2});
  if (fc2_norm) y = fc2_norm(y);
  if (gamma.defined()) y = gamma.view({1, -1, 1, 1}) * y;
  return x + drop_path(y);
}

void UniRepLKNetBlockImpl::reparameterize() {
  torch::NoGradGuard ng;
  if (dilated) dilated->merge_dilated_branches();
  if (norm) {
    const at::Tensor std = (norm->running_var + norm->options.eps()).sqrt();
    const at::Tensor scale = norm->weight / std;
    if (dilated) {
      nn::Conv2d& conv = dilated->lk_origin;
      conv->weight.mul_(scale.view({-1, 1, 1, 1}));
      conv->bias.copy_(norm->bias + (conv->bias - norm->running_mean) * scale);
    } else {
      // A plain 3 / 5 conv gains a bias: rebuild it, then restore the official child order (dwconv first).
      const int64_t C = options.dim(), k = options.kernel_size();
      const at::Tensor w = dwconv->weight * scale.view({-1, 1, 1, 1});
      const at::Tensor b = norm->bias - norm->running_mean * scale;
      std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> rest;
      for (const auto& item : named_children())
        if (item.key() != "dwconv" && item.key() != "norm") rest.emplace_back(item.key(), item.value());
      for (const auto& name : named_children().keys()) unregister_module(name);
      dwconv = register_module("dwconv", nn::Conv2d(nn::Conv2dOptions(C, C, k).padding(k / 2).groups(C).bias(true)));
      dwconv->to(w.device(), w.scalar_type());
      dwconv->weight.copy_(w);
      dwconv->bias.copy_(b);
      for (const auto& [name, child] : rest) register_module(name, child);
    }
    if (named_children().contains("norm")) unregister_module("norm");
    norm = nullptr;
  }
  at::Tensor final_scale;
  if (gamma.defined()) {
    final_scale = gamma.detach().clone();
    parameters_.erase("gamma");
    gamma = at::Tensor();
  }
  if (grn->beta.defined() && fc2_norm) {
    // The GRN bias passes through fc2 (W beta), then fc2's BN and the layer scale fold into a biased fc2.
    const at::Tensor projected = torch::matmul(fc2->weight, grn->beta.view({-1, 1})).squeeze();
    grn->remove_bias();
    const at::Tensor std = (fc2_norm->running_var + fc2_norm->options.eps()).sqrt();
    const at::Tensor scale = fc2_norm->weight / std * (final_scale.defined() ? final_scale : torch::ones_like(std));
    const at::Tensor bias = (fc2_norm->bias + (projected - fc2_norm->running_mean) * fc2_norm->weight / std) *
                            (final_scale.defined() ? final_scale : torch::ones_like(std));
    const at::Tensor weight = fc2->weight * scale.view({-1, 1});
    pwconv2_->unregister_module("0");
    pwconv2_->unregister_module("2");
    fc2 = pwconv2_->register_module("0", nn::Linear(nn::LinearOptions(fc2->options.in_features(), fc2->options.out_features()).bias(true)));
    fc2->to(weight.device(), weight.scalar_type());
    fc2->weight.copy_(weight);
    fc2->bias.copy_(bias);
    fc2_norm = nullptr;
  }
  options.deploy(true);
}

void register_unireplknet_modules(ModuleEntries& e) {
  e.push_back(module_entry<DilatedReparamBlock>(
      "unireplknet", "DilatedReparamBlock", "attnzoo::modules::DilatedReparamBlock",
      "large depthwise kernel + parallel dilated branches (merge_dilated_branches() folds them), NCHW",
      DilatedReparamBlockOptions(0, 0)));
  e.push_back(module_entry<UniRepLKNetBlock>("unireplknet", "UniRepLKNetBlock", "attnzoo::modules::UniRepLKNetBlock",
                                             "UniRepLKNet block (reparameterize() gives the deploy form), NCHW",
                                             UniRepLKNetBlockOptions(0, 0)));
  e.push_back(module_entry<GRN>("unireplknet", "GRNwithNHWC", "attnzoo::modules::GRN", "global response normalisation, NHWC",
                                GRNOptions(0)));
  e.push_back(module_entry<SEBlock>("unireplknet", "SEBlock", "attnzoo::modules::SEBlock", "squeeze-excite (down / up), NCHW",
                                    SEBlockOptions(0, 0)));
  e.push_back(module_entry<DilatedReparamBlock1D>("unireplknet", "DilatedReparamBlock1D", "attnzoo::modules::DilatedReparamBlock1D",
                                                  "the dilated re-param block along a sequence [B, L, C]",
                                                  DilatedReparamBlock1DOptions(0, 0), MaskedForward{}));
}

}  // namespace attnzoo::modules
