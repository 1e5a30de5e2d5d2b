#include <attnzoo/modules/deform_conv.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

at::Tensor deform_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& offset, const at::Tensor& mask,
                         const at::Tensor& bias, std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                         std::array<int64_t, 2> dilation, int64_t groups) {
  TORCH_CHECK(input.dim() == 4 && weight.dim() == 4 && offset.dim() == 4, "deform_conv2d: 4-D input, weight and offset expected");
  const int64_t B = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  const int64_t Cout = weight.size(0), kh = weight.size(2), kw = weight.size(3), K = kh * kw;
  TORCH_CHECK(C % groups == 0 && Cout % groups == 0 && weight.size(1) == C / groups, "deform_conv2d: weight ", weight.sizes(),
              " does not fit ", C, " input channels in ", groups, " groups");
  const int64_t Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
  const int64_t Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
  TORCH_CHECK(offset.size(0) == B && offset.size(2) == Ho && offset.size(3) == Wo && offset.size(1) % (2 * K) == 0,
              "deform_conv2d: offset ", offset.sizes(), " does not fit output ", Ho, "x", Wo, " with ", K, " taps");
  const int64_t G = offset.size(1) / (2 * K);
  TORCH_CHECK(C % G == 0, "deform_conv2d: ", C, " channels are not divisible into ", G, " offset groups");
  const int64_t L = Ho * Wo, Cg = C / G;
  const auto opts = input.options();

  // Sampling positions [B, G, K, Ho, Wo].
  const auto off = offset.view({B, G, K, 2, Ho, Wo});
  const auto ty = torch::arange(kh, opts).mul(dilation[0]).view({kh, 1}).expand({kh, kw}).reshape({1, 1, K, 1, 1});
  const auto tx = torch::arange(kw, opts).mul(dilation[1]).view({1, kw}).expand({kh, kw}).reshape({1, 1, K, 1, 1});
  const auto oy = torch::arange(Ho, opts).mul(stride[0]).sub(padding[0]).view({1, 1, 1, Ho, 1});
  const auto ox = torch::arange(Wo, opts).mul(stride[1]).sub(padding[1]).view({1, 1, 1, 1, Wo});
  at::Tensor py = oy + ty + off.select(3, 0);
  at::Tensor px = ox + tx + off.select(3, 1);
  // Outside (-1, H) x (-1, W), or not finite: the sample is zero. Replace such positions by 0 before
  // any integer conversion so NaN/inf/huge values never reach an index.
  const auto valid = (py > -1) & (py < H) & (px > -1) & (px < W) & torch::isfinite(py) & torch::isfinite(px);
  const auto zero = torch::zeros({}, opts);
  py = torch::where(valid, py, zero);
  px = torch::where(valid, px, zero);
  const auto y0 = py.detach().floor(), x0 = px.detach().floor();
  const auto ly = py - y0, lx = px - x0;  // differentiable in the offsets
  const auto validf = valid.to(input.scalar_type());

  const auto x_flat = input.reshape({B, G, Cg, H * W});
  at::Tensor sampled = torch::zeros({B, G, Cg, K * L}, opts);
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const auto yy = y0 + dy, xx = x0 + dx;
      const auto inb = ((yy >= 0) & (yy <= H - 1) & (xx >= 0) & (xx <= W - 1)).to(input.scalar_type());
      const auto wy = dy ? ly : 1 - ly;
      const auto wx = dx ? lx : 1 - lx;
      const auto w = (wy * wx * inb * validf).reshape({B, G, 1, K * L});
      const auto idx = (yy.clamp(0, H - 1) * W + xx.clamp(0, W - 1)).to(at::kLong).reshape({B, G, 1, K * L}).expand({B, G, Cg, K * L});
      sampled = sampled + torch::gather(x_flat, 3, idx) * w;
    }
  }
  if (mask.defined()) {
    TORCH_CHECK(mask.sizes() == at::IntArrayRef({B, G * K, Ho, Wo}), "deform_conv2d: mask ", mask.sizes(), " expected [", B, ", ",
                G * K, ", ", Ho, ", ", Wo, "]");
    sampled = sampled * mask.reshape({B, G, 1, K * L});
  }
  // Columns [B, groups, C/groups * K, L] (channel-major, taps row-major) times the weights.
  const auto cols = sampled.reshape({B, groups, (C / groups) * K, L});
  const auto wmat = weight.reshape({groups, Cout / groups, (C / groups) * K});
  at::Tensor out = torch::matmul(wmat, cols).reshape({B, Cout, Ho, Wo});
  if (bias.defined()) out = out + bias.view({1, Cout, 1, 1});
  return out;
}

void DeformConv2dPackImpl::reset() {
  const int64_t in_ = options.in_channels(), out_ = options.out_channels(), k_ = options.kernel_size();
  const int64_t s_ = options.stride(), p_ = options.padding();
  weight = register_parameter("weight", torch::empty({out_, in_, k_, k_}));
  bias = register_parameter("bias", torch::zeros({out_}));
  {  // PyTorch Conv2d's default init (kaiming_uniform a=sqrt(5), uniform bias)
    torch::NoGradGuard ng;
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_ * k_ * k_));
    bias.uniform_(-bound, bound);
  }
  conv_offset = register_module("conv_offset", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_, 2 * k_ * k_, k_).stride(s_).padding(p_)));
  torch::NoGradGuard ng;
  conv_offset->weight.zero_();
  conv_offset->bias.zero_();
}

void DeformConv2dPackImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::DeformConv2dPack(" << options.in_channels() << ", " << options.out_channels()
     << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride() << ", padding=" << options.padding() << ")";
}

at::Tensor DeformConv2dPackImpl::forward(const at::Tensor& x) {
  const int64_t s = options.stride(), p = options.padding();
  return deform_conv2d(x, weight, conv_offset(x), at::Tensor(), bias, {s, s}, {p, p}, {1, 1});
}

}  // namespace attnzoo::modules
