#include <attnzoo/modules/depthwise.h>

#include "depthwise_kernel.h"

#include <attnzoo/modules/fast_kernels.h>
#include <attnzoo/torch_compat.h>

#include <ATen/Dispatch.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

namespace attnzoo::modules {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

kernels::DepthwiseGeometry geometry(const at::Tensor& x, const at::Tensor& w, std::array<int64_t, 2> pad,
                                    std::array<int64_t, 2> dil) {
  kernels::DepthwiseGeometry g{};
  g.B = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.KH = w.size(2), g.KW = w.size(3);
  g.ph = pad[0], g.pw = pad[1], g.dh = dil[0], g.dw = dil[1];
  g.Ho = g.H + 2 * g.ph - g.dh * (g.KH - 1);
  g.Wo = g.W + 2 * g.pw - g.dw * (g.KW - 1);
  TORCH_CHECK(g.Ho > 0 && g.Wo > 0, "depthwise_conv2d: input ", x.sizes(), " is smaller than the dilated kernel ",
              w.sizes(), " with padding ", pad[0], "x", pad[1]);
  return g;
}

// Small maps: rows too short to vectorise (see forward).
bool prefers_nhwc(const kernels::DepthwiseGeometry& g) { return g.W < 16 && g.C >= 16; }

bool is_nhwc(const at::Tensor& x) {
  return !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor layout_like(const at::Tensor& t, bool nhwc) {
  return nhwc ? t.contiguous(at::MemoryFormat::ChannelsLast) : t.contiguous();
}

struct Args {
  std::array<int64_t, 2> pad, dil;
  bool has_bias;
};

class DepthwiseConv2dFunction : public torch::autograd::Function<DepthwiseConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                            const Args& a) {
    const auto g = geometry(x, w, a.pad, a.dil);
    // Plain NCHW input on small maps runs the NHWC kernels on a channels-last copy: rows of a few pixels
    // do not vectorise, channel vectors do (4x on a 7x7 map); the result is handed back in NCHW.
    const bool nhwc_input = is_nhwc(x), nhwc = nhwc_input || prefers_nhwc(g);
    const at::Tensor xk = layout_like(x, nhwc);
    at::Tensor y = at::empty({g.B, g.C, g.Ho, g.Wo}, x.options(),
                             nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "depthwise_conv2d", [&] {
      kernels::depthwise_forward<scalar_t>(g, nhwc, xk.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                           a.has_bias ? b.data_ptr<scalar_t>() : nullptr, y.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({xk, w});
    ctx->saved_data["pad"] = std::vector<int64_t>{a.pad[0], a.pad[1]};
    ctx->saved_data["dil"] = std::vector<int64_t>{a.dil[0], a.dil[1]};
    ctx->saved_data["has_bias"] = a.has_bias;
    ctx->saved_data["nchw_out"] = nhwc && !nhwc_input;
    return nhwc && !nhwc_input ? y.contiguous() : y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    const auto pad = ctx->saved_data["pad"].toIntVector(), dil = ctx->saved_data["dil"].toIntVector();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const bool nchw_out = ctx->saved_data["nchw_out"].toBool();
    const bool nhwc = nchw_out || is_nhwc(x);
    const auto g = geometry(x, w, {pad[0], pad[1]}, {dil[0], dil[1]});
    const at::Tensor gy = layout_like(grads[0], nhwc);
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    at::Tensor gx = need_x ? at::empty_like(x) : at::Tensor();
    at::Tensor gw = need_w ? at::empty_like(w) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "depthwise_conv2d_backward", [&] {
      kernels::depthwise_backward<scalar_t>(g, nhwc, x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                            gy.data_ptr<scalar_t>(), need_x ? gx.data_ptr<scalar_t>() : nullptr,
                                            need_w ? gw.data_ptr<scalar_t>() : nullptr);
    });
    at::Tensor gb = has_bias && ctx->needs_input_grad(2) ? gy.sum({0, 2, 3}) : at::Tensor();
    return {nchw_out && need_x ? gx.contiguous() : gx, gw, gb, at::Tensor()};
  }
};

// Where the kernels beat LibTorch's oneDNN path (BM_Depthwise in bench/README.md, same minutes): dilated
// kernels and maps narrower than 16 always; NCHW input otherwise, except 3x3 kernels with gradients;
// channels-last input (oneDNN's native layout) only for 5x5 and larger kernels with gradients.
// What the kernels compute: CPU float32/float64, x [B, C, H, W], weight [C, 1, kh, kw], bias of x's dtype.
bool kernel_supports(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  return x.device().is_cpu() && w.device().is_cpu() && x.dim() == 4 && w.dim() == 4 && w.size(1) == 1 &&
         w.size(0) == x.size(1) && x.size(0) > 0 && x.scalar_type() == w.scalar_type() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) &&
         (!bias.defined() || (bias.device().is_cpu() && bias.scalar_type() == x.scalar_type()));
}

bool kernel_is_faster(const at::Tensor& x, const at::Tensor& w, std::array<int64_t, 2> dilation) {
  const bool dilated = dilation[0] > 1 || dilation[1] > 1, small_map = x.size(3) < 16;
  if (dilated || small_map) return true;
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  const bool k3 = w.size(2) <= 3 && w.size(3) <= 3;
  if (is_nhwc(x)) return grad && !k3;
  return !(grad && k3);
}

}  // namespace

at::Tensor depthwise_conv2d_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                      std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation) {
  const int64_t C = x.size(1);
  const std::array<int64_t, 2> size{x.size(2), x.size(3)};
  const std::array<int64_t, 2> k{weight.size(2), weight.size(3)};
  at::Tensor w = weight;
  std::array<int64_t, 2> pad = padding;
  bool cropped = false;
  for (int a = 0; a < 2; ++a) {
    const int64_t c = (k[a] - 1) / 2;
    // Tap t sits at offset (t - c) * dilation from the output position, relative to the same-padded
    // input. Only when padding == c * dilation ("same") is the output aligned with the input.
    if (k[a] % 2 == 0 || padding[a] != c * dilation[a]) continue;
    int64_t r = c;
    while (r > 0 && r * dilation[a] >= size[a]) --r;
    if (r < c) {
      w = w.narrow(2 + a, c - r, 2 * r + 1);
      pad[a] = r * dilation[a];
      cropped = true;
    }
  }
  if (cropped && w.size(2) == 1 && w.size(3) == 1) {
    at::Tensor y = x * w.reshape({1, C, 1, 1});
    return bias.defined() ? y + bias.reshape({1, C, 1, 1}) : y;
  }
  return at::conv2d(x, w, bias, {1, 1}, {pad[0], pad[1]}, {dilation[0], dilation[1]}, C);
}

at::Tensor depthwise_conv2d_kernel(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                   std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation) {
  TORCH_CHECK(kernel_supports(x, weight, bias),
              "depthwise_conv2d_kernel: expects CPU float32/float64 x [B, C, H, W] and weight [C, 1, kh, kw], got ",
              x.sizes(), " ", x.scalar_type(), " and ", weight.sizes(), " ", weight.scalar_type());
  // Visible to the profiler and the FLOP counter: inputs x, weight and the MACs (output elements x taps).
  const auto g = geometry(x, weight, padding, dilation);
  const std::vector<c10::IValue> record_inputs{x, weight, c10::IValue(g.B * g.C * g.Ho * g.Wo * g.KH * g.KW)};
  RECORD_FUNCTION("attnzoo::depthwise_conv2d", record_inputs);
  // Autograd functions take no undefined tensors: an empty placeholder stands for "no bias".
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::empty({0}, x.options());
  return DepthwiseConv2dFunction::apply(x, weight.contiguous(), b, Args{padding, dilation, bias.defined()});
}

at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation) {
  if (fast_kernels_enabled() && kernel_supports(x, weight, bias) && kernel_is_faster(x, weight, dilation))
    return depthwise_conv2d_kernel(x, weight, bias, padding, dilation);
  return depthwise_conv2d_reference(x, weight, bias, padding, dilation);
}

at::Tensor depthwise_conv2d(const at::Tensor& x, torch::nn::Conv2dImpl& conv) {
  const auto& o = conv.options;
  const auto* pad = compat::get_if<torch::ExpandingArray<2>>(&o.padding());
  const bool depthwise = o.groups() == o.in_channels() && o.out_channels() == o.in_channels() &&
                         (*o.stride())[0] == 1 && (*o.stride())[1] == 1 && pad != nullptr &&
                         compat::holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
  if (!depthwise) return conv.forward(x);
  return depthwise_conv2d(x, conv.weight, conv.bias, {(**pad)[0], (**pad)[1]}, {(*o.dilation())[0], (*o.dilation())[1]});
}

}  // namespace attnzoo::modules
