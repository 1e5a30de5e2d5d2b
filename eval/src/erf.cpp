#include <attnzoo/eval/erf.h>

#include <torch/torch.h>

#include <stdexcept>

namespace attnzoo::eval {

at::Tensor erf_contribution(const std::function<at::Tensor(const at::Tensor&)>& feature_map, const at::Tensor& images,
                            ErfGrad grad, int64_t* used) {
  if (images.dim() != 4) throw std::invalid_argument("erf: images must be [B, C, H, W]");
  at::Tensor total = torch::zeros({images.size(2), images.size(3)}, torch::kFloat64);
  int64_t added = 0;
  // One image at a time, as the official script: the central position of each image's own map.
  for (int64_t b = 0; b < images.size(0); ++b) {
    torch::AutoGradMode enable(true);
    at::Tensor x = images.narrow(0, b, 1).detach().clone().requires_grad_(true);
    const at::Tensor map = feature_map(x);
    if (map.dim() != 4) throw std::invalid_argument("erf: the feature map must be NCHW");
    const at::Tensor centre = torch::relu(map.select(2, map.size(2) / 2).select(2, map.size(3) / 2)).sum();
    at::Tensor g = torch::autograd::grad({centre}, {x}, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                         /*allow_unused=*/true)[0];
    if (!g.defined()) g = torch::zeros_like(x);  // the map does not depend on the input (a constant model)
    g = grad == ErfGrad::abs ? g.abs() : torch::relu(g);
    const at::Tensor score = g.sum(at::IntArrayRef{0, 1}).to(torch::kCPU, torch::kFloat64);
    if (!torch::isfinite(score).all().item<bool>()) continue;
    total += score;
    ++added;
  }
  if (used) *used = added;
  return total;
}

at::Tensor erf_display_scale(const at::Tensor& map) {
  const at::Tensor scaled = torch::log10(map.to(torch::kFloat64) + 1);
  const double peak = scaled.max().item<double>();
  return peak > 0 ? scaled / peak : scaled;
}

std::vector<AreaRatio> high_contribution_area_ratios(const at::Tensor& scaled, const std::vector<double>& thresholds) {
  if (scaled.dim() != 2) throw std::invalid_argument("erf: the map must be [H, W]");
  const at::Tensor m = scaled.to(torch::kFloat64);
  const int64_t h = m.size(0), w = m.size(1);
  const double total = m.sum().item<double>();
  std::vector<AreaRatio> out;
  for (double t : thresholds) {
    AreaRatio r{t, 0, 0.0};
    // get_rectangle: i = 1 .. h/2 - 1, the square [h/2 - i, h/2 + i] x [w/2 - i, w/2 + i].
    for (int64_t i = 1; i < h / 2 && total > 0; ++i) {
      const int64_t y0 = std::max<int64_t>(h / 2 - i, 0), x0 = std::max<int64_t>(w / 2 - i, 0);
      const at::Tensor square = m.slice(0, y0, h / 2 + 1 + i).slice(1, x0, w / 2 + 1 + i);
      if (square.sum().item<double>() / total > t) {
        r.side = 2 * i + 1;
        r.ratio = double(r.side) / double(h) * double(r.side) / double(w);
        break;
      }
    }
    out.push_back(r);
  }
  return out;
}

nlohmann::json area_ratios_json(const std::vector<AreaRatio>& ratios) {
  nlohmann::json t = nlohmann::json::array(), side = nlohmann::json::array(), ratio = nlohmann::json::array();
  for (const auto& r : ratios) {
    t.push_back(r.threshold);
    side.push_back(r.side == 0 ? nlohmann::json() : nlohmann::json(r.side));
    ratio.push_back(r.side == 0 ? nlohmann::json() : nlohmann::json(r.ratio));
  }
  return {{"thresholds", t}, {"side", side}, {"area_ratio", ratio}};
}

}  // namespace attnzoo::eval
