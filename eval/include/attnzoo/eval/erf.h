#pragma once
// The effective receptive field (ERF) as the RepLKNet / UniRepLKNet papers measure it (RepLKNet-pytorch's
// erf/visualize_erf.py and erf/analyze_erf.py): the gradient of the central position of a feature map
// (ReLU'd and summed over channels) with respect to the input, reduced over the input's channels and summed
// over images; then scaled as log10(1 + x) / max and summarised by the high-contribution area ratios (the
// smallest centred square holding a fraction t of the total).
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace attnzoo::eval {

/// How the input gradient becomes a contribution score: `abs` (|grad|, the default here) or `relu`
/// (max(grad, 0), exactly RepLKNet's visualize_erf.py).
enum class ErfGrad { abs, relu };

/// The contribution map of `images` [B, C, H, W] through `feature_map` (input -> NCHW map): for each image the
/// gradient of sum_c relu(map[c, h/2, w/2]) with respect to it, reduced by `grad` and summed over channels;
/// returned summed over the B images as a float64 [H, W] map. Images whose gradient is not finite are
/// skipped (as the official script does); `used` (when given) counts the images that were added.
at::Tensor erf_contribution(const std::function<at::Tensor(const at::Tensor&)>& feature_map, const at::Tensor& images,
                            ErfGrad grad = ErfGrad::abs, int64_t* used = nullptr);

/// log10(1 + map) / its maximum: the scale the papers' heatmaps and area ratios use (0 everywhere when
/// the map is zero).
at::Tensor erf_display_scale(const at::Tensor& map);

struct AreaRatio {
  double threshold;  // t: the fraction of the total
  int64_t side;      // side of the smallest centred square holding more than t (3, 5, ...); 0: none below the map's size
  double ratio;      // side^2 / (H W), the high-contribution area ratio (0 when side is 0)
};

/// analyze_erf.py's get_rectangle on `scaled` [H, W] (already display-scaled): squares of side 3, 5, ... around
/// the centre (H/2, W/2), the first whose sum exceeds t of the total.
std::vector<AreaRatio> high_contribution_area_ratios(const at::Tensor& scaled,
                                                     const std::vector<double>& thresholds = {0.2, 0.3, 0.5, 0.99});

/// {"thresholds": [...], "side": [...], "area_ratio": [...]} plus nothing else; callers add the run's facts.
nlohmann::json area_ratios_json(const std::vector<AreaRatio>& ratios);

}  // namespace attnzoo::eval
