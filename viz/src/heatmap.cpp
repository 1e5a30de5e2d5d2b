#include <attnzoo/viz/heatmap.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/viz/plot.h>

#include "draw_util.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace attnzoo::viz {

namespace {

using detail::number;
using detail::text;

constexpr int kMargin = 16, kTitleH = 34, kLabelH = 22, kBarW = 18, kBarSpace = 110;

std::pair<double, double> value_range(const HeatmapFigure& f) {
  double lo = f.vmin, hi = f.vmax;
  if (std::isnan(lo) || std::isnan(hi)) {
    double l = INFINITY, h = -INFINITY;
    for (const auto& t : f.tiles)
      for (double v : t.values)
        if (std::isfinite(v)) l = std::min(l, v), h = std::max(h, v);
    if (!std::isfinite(l)) l = 0, h = 1;
    if (std::isnan(lo)) lo = l;
    if (std::isnan(hi)) hi = h;
  }
  if (!(hi > lo)) hi = lo + 1;
  return {lo, hi};
}

// value -> 0..255 on [lo, hi].
cv::Mat to_bytes(const HeatmapTile& t, double lo, double hi) {
  cv::Mat bytes(static_cast<int>(t.rows), static_cast<int>(t.cols), CV_8UC1);
  for (int64_t i = 0; i < t.rows * t.cols; ++i) {
    const double v = std::isfinite(t.values[i]) ? t.values[i] : lo;
    bytes.data[i] = static_cast<uchar>(std::lround(std::clamp((v - lo) / (hi - lo), 0.0, 1.0) * 255));
  }
  return bytes;
}

cv::Mat background_bgr(const HeatmapFigure& f, int px) {
  cv::Mat rgb(static_cast<int>(f.background_rows), static_cast<int>(f.background_cols), CV_8UC3,
              const_cast<uint8_t*>(f.background.data()));
  cv::Mat bgr, out;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::resize(bgr, out, {px, px}, 0, 0, cv::INTER_AREA);
  return out;
}

void draw_tile(cv::Mat& img, const HeatmapFigure& f, const HeatmapTile& t, cv::Point at, double lo, double hi) {
  cv::Mat colour, big;
  cv::applyColorMap(to_bytes(t, lo, hi), colour, cv::COLORMAP_VIRIDIS);
  cv::resize(colour, big, {f.tile_px, f.tile_px}, 0, 0, cv::INTER_NEAREST);
  if (!f.background.empty()) cv::addWeighted(big, f.overlay_alpha, background_bgr(f, f.tile_px), 1 - f.overlay_alpha, 0, big);
  big.copyTo(img(cv::Rect(at.x, at.y, f.tile_px, f.tile_px)));
  for (const auto& [fy, fx] : f.markers) {
    const cv::Point c(at.x + static_cast<int>(fx * f.tile_px), at.y + static_cast<int>(fy * f.tile_px));
    cv::drawMarker(img, c, cv::Scalar(255, 255, 255), cv::MARKER_CROSS, 14, 3, cv::LINE_AA);
    cv::drawMarker(img, c, cv::Scalar(0, 0, 230), cv::MARKER_CROSS, 12, 1, cv::LINE_AA);
  }
  cv::rectangle(img, cv::Rect(at.x, at.y, f.tile_px, f.tile_px), cv::Scalar(90, 90, 90), 1);
  text(img, t.label, {at.x + f.tile_px / 2, at.y + f.tile_px + 15}, 0.42, false, /*centre=*/true);
}

// The colour bar: the colormap from hi (top) to lo (bottom) with value ticks on its right.
void draw_colour_bar(cv::Mat& img, const HeatmapFigure& f, cv::Point at, int height, double lo, double hi) {
  cv::Mat ramp(height, 1, CV_8UC1), colour, bar;
  for (int y = 0; y < height; ++y) ramp.at<uchar>(y, 0) = static_cast<uchar>(255 - (255 * y) / std::max(1, height - 1));
  cv::applyColorMap(ramp, colour, cv::COLORMAP_VIRIDIS);
  cv::resize(colour, bar, {kBarW, height}, 0, 0, cv::INTER_NEAREST);
  bar.copyTo(img(cv::Rect(at.x, at.y, kBarW, height)));
  cv::rectangle(img, cv::Rect(at.x, at.y, kBarW, height), cv::Scalar(90, 90, 90), 1);
  for (double v : nice_ticks(lo, hi, 5)) {
    if (v < lo - 1e-12 * (hi - lo) || v > hi + 1e-12 * (hi - lo)) continue;
    const int y = at.y + static_cast<int>(std::lround((hi - v) / (hi - lo) * (height - 1)));
    cv::line(img, {at.x + kBarW, y}, {at.x + kBarW + 4, y}, cv::Scalar(60, 60, 60), 1);
    text(img, number(v), {at.x + kBarW + 7, y + 4}, 0.38);
  }
  // The label, written vertically: rotate a strip of text.
  if (!f.value_label.empty()) {
    cv::Mat strip(22, height, CV_8UC3, cv::Scalar(255, 255, 255)), rotated;
    text(strip, f.value_label.substr(0, 48), {height / 2, 16}, 0.4, false, /*centre=*/true);
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    rotated.copyTo(img(cv::Rect(at.x + kBarW + 58, at.y, rotated.cols, rotated.rows)));
  }
}

// Words of `title` in lines no wider than `width` pixels.
std::vector<std::string> wrap(const std::string& title, int width, double scale) {
  std::vector<std::string> lines;
  std::string line, word;
  std::istringstream in(title);
  while (in >> word) {
    const std::string candidate = line.empty() ? word : line + " " + word;
    int base = 0;
    if (!line.empty() && cv::getTextSize(candidate, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base).width > width) {
      lines.push_back(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

void draw_heatmaps(const HeatmapFigure& f, const std::string& png_path) {
  if (f.tiles.empty()) throw std::invalid_argument(png_path + ": a heatmap figure needs at least one tile");
  for (const auto& t : f.tiles)
    if (t.rows <= 0 || t.cols <= 0 || static_cast<int64_t>(t.values.size()) != t.rows * t.cols)
      throw std::invalid_argument(png_path + ": tile '" + t.label + "' has " + std::to_string(t.values.size()) +
                                  " values for " + std::to_string(t.rows) + " x " + std::to_string(t.cols));
  if (!f.background.empty() &&
      static_cast<int64_t>(f.background.size()) != f.background_rows * f.background_cols * 3)
    throw std::invalid_argument(png_path + ": the background picture is not rows x cols x 3 bytes");
  const auto [lo, hi] = value_range(f);
  const int n = static_cast<int>(f.tiles.size()), cols = std::max(1, std::min(f.columns, n));
  const int rows = (n + cols - 1) / cols;
  const int cell_w = f.tile_px + kMargin, cell_h = f.tile_px + kLabelH;
  const int width = std::max(kMargin + cols * cell_w + kBarSpace, 360);
  const std::vector<std::string> title = wrap(f.title, width - 2 * kMargin, 0.5);
  const int title_h = kTitleH + 20 * (std::max<int>(1, static_cast<int>(title.size())) - 1);
  const int height = title_h + rows * cell_h + kMargin;
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < title.size(); ++i) text(img, title[i], {kMargin, 22 + 20 * static_cast<int>(i)}, 0.5);
  for (int i = 0; i < n; ++i)
    draw_tile(img, f, f.tiles[i], {kMargin + (i % cols) * cell_w, title_h + (i / cols) * cell_h}, lo, hi);
  draw_colour_bar(img, f, {kMargin + cols * cell_w + 4, title_h}, std::max(rows * cell_h - kLabelH, 80), lo, hi);
  std::vector<uchar> png;
  if (!cv::imencode(".png", img, png)) throw std::runtime_error(png_path + ": PNG encoding failed");
  write_file_atomic(png_path, std::string(png.begin(), png.end()));
}

}  // namespace attnzoo::viz
