#include <attnzoo/modules/depthwise.h>

#include <ATen/ATen.h>

namespace attnzoo::modules {

at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
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

}  // namespace attnzoo::modules
