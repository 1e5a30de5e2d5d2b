#include <attnzoo/viz/plot.h>

#include <attnzoo/core/file_util.h>

#include "draw_util.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace attnzoo::viz {

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, count);
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double mag = std::pow(10.0, exponent);
  int multiple = 10;
  for (int m : {1, 2, 5, 10})
    if (m * mag >= raw * (1 - 1e-9)) {  // (1 - eps): a range that is exactly 4 steps gets those steps
      multiple = m;
      break;
    }
  // tick k = k * multiple * 10^exponent, computed so that decimal values come out correctly rounded (0.6, not
  // 0.6000000000000001): an integer times a power of ten, or divided by one.
  auto value = [&](int64_t k) {
    const double n = static_cast<double>(k * multiple);
    return exponent >= 0 ? n * std::pow(10.0, exponent) : n / std::pow(10.0, -exponent);
  };
  const double step = multiple * mag;
  std::vector<double> ticks;
  for (auto k = static_cast<int64_t>(std::ceil(lo / step - 1e-9)); value(k) <= hi + step * 1e-9; ++k) ticks.push_back(value(k));
  return ticks;
}

namespace {

using detail::number;
using detail::text;

// tab10, as RGB.
const int kPalette[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                             {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

std::string unit_of(const std::string& metric) {
  if (metric.find("top1") != std::string::npos || metric.find("top5") != std::string::npos || metric == "val_accuracy")
    return " (%)";
  if (metric == "img_s") return " (images/s)";
  if (metric == "tokens_per_s") return " (tokens/s)";
  if (metric == "elapsed_s") return " (s)";
  return "";
}

// One chart's geometry and value ranges.
struct Chart {
  std::string metric, x_name;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  int left = 0, top = 0, width = 0, height = 0;  // the plot area, in the whole picture
  double px(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * width; }
  double py(double y) const { return top + height - (y - y_lo) / (y_hi - y_lo) * height; }
};

Chart chart_for(const std::vector<RunSeries>& runs, const std::string& metric, int index, const PlotOptions& o) {
  Chart c;
  c.metric = metric;
  c.x_name = runs.front().x_name;
  double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
  for (const auto& r : runs) {
    const auto it = r.metrics.find(metric);
    if (it == r.metrics.end()) continue;
    for (size_t i = 0; i < r.x.size(); ++i) {
      if (!std::isfinite(it->second[i])) continue;
      xl = std::min(xl, r.x[i]);
      xh = std::max(xh, r.x[i]);
      yl = std::min(yl, it->second[i]);
      yh = std::max(yh, it->second[i]);
    }
  }
  if (!std::isfinite(xl)) xl = 0, xh = 1;
  if (!std::isfinite(yl)) yl = 0, yh = 1;
  if (xh <= xl) xl -= 0.5, xh += 0.5;
  if (yh <= yl) {
    const double pad = yl == 0 ? 1.0 : std::abs(yl) * 0.1;
    yl -= pad, yh += pad;
  }
  const double pad = 0.05 * (yh - yl);
  c.x_lo = xl, c.x_hi = xh, c.y_lo = yl - pad, c.y_hi = yh + pad;
  c.left = 80;
  c.top = index * o.chart_height + 34;
  c.width = o.chart_width - c.left - 24;
  c.height = o.chart_height - 34 - 50;
  return c;
}

void check_metrics(const std::vector<RunSeries>& runs, const std::vector<std::string>& metrics) {
  for (const auto& m : metrics) {
    bool found = false;
    for (const auto& r : runs) found = found || r.metrics.count(m);
    if (found) continue;
    std::string known;
    for (const auto& [name, values] : runs.front().metrics) known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("--metric " + m + ": no run logs it (" + runs.front().label + " has " + known + ")");
  }
}

// ---------------------------------------------------------------------------------------------------
// PNG

cv::Scalar bgr(size_t run) {
  const int* c = kPalette[run % 10];
  return cv::Scalar(c[2], c[1], c[0]);
}

void draw_chart(cv::Mat& img, const Chart& c, const std::vector<RunSeries>& runs) {
  const cv::Scalar grid(225, 225, 225), axis(60, 60, 60);
  for (double t : nice_ticks(c.y_lo, c.y_hi)) {
    const int y = static_cast<int>(std::lround(c.py(t)));
    cv::line(img, {c.left, y}, {c.left + c.width, y}, grid, 1);
    text(img, number(t), {c.left - 6, y + 4}, 0.4, /*right=*/true);
  }
  for (double t : nice_ticks(c.x_lo, c.x_hi)) {
    const int x = static_cast<int>(std::lround(c.px(t)));
    cv::line(img, {x, c.top}, {x, c.top + c.height}, grid, 1);
    text(img, number(t), {x, c.top + c.height + 16}, 0.4, false, /*centre=*/true);
  }
  cv::rectangle(img, {c.left, c.top}, {c.left + c.width, c.top + c.height}, axis, 1);
  text(img, c.metric + unit_of(c.metric), {c.left + c.width / 2, c.top - 10}, 0.55, false, true);
  text(img, c.x_name, {c.left + c.width / 2, c.top + c.height + 38}, 0.45, false, true);
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto it = runs[r].metrics.find(c.metric);
    if (it == runs[r].metrics.end()) continue;
    std::vector<cv::Point> segment;
    auto flush = [&] {
      if (segment.size() > 1) cv::polylines(img, segment, false, bgr(r), 2, cv::LINE_AA);
      if (segment.size() == 1) cv::circle(img, segment[0], 3, bgr(r), cv::FILLED, cv::LINE_AA);
      segment.clear();
    };
    for (size_t i = 0; i < runs[r].x.size(); ++i) {
      if (!std::isfinite(it->second[i])) {
        flush();
        continue;
      }
      segment.emplace_back(static_cast<int>(std::lround(c.px(runs[r].x[i]))), static_cast<int>(std::lround(c.py(it->second[i]))));
    }
    flush();
  }
  // Legend, top right inside the plot area, on a white box so that it stays readable over the lines.
  const int legend_x = c.left + c.width - 156, legend_h = 8 + 16 * static_cast<int>(runs.size());
  cv::rectangle(img, {legend_x, c.top + 4}, {c.left + c.width - 4, c.top + 4 + legend_h}, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(img, {legend_x, c.top + 4}, {c.left + c.width - 4, c.top + 4 + legend_h}, grid, 1);
  for (size_t r = 0; r < runs.size(); ++r) {
    const int y = c.top + 16 + static_cast<int>(r) * 16, x = c.left + c.width - 150;
    cv::line(img, {x, y - 4}, {x + 20, y - 4}, bgr(r), 2, cv::LINE_AA);
    text(img, runs[r].label.substr(0, 20), {x + 26, y}, 0.4);
  }
}

// ---------------------------------------------------------------------------------------------------
// SVG

std::string xml(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
  return out;
}

std::string rgb(size_t run) {
  const int* c = kPalette[run % 10];
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

void svg_chart(std::ostringstream& s, const Chart& c, const std::vector<RunSeries>& runs) {
  for (double t : nice_ticks(c.y_lo, c.y_hi))
    s << "<line x1='" << c.left << "' x2='" << c.left + c.width << "' y1='" << c.py(t) << "' y2='" << c.py(t)
      << "' stroke='#e1e1e1'/><text x='" << c.left - 6 << "' y='" << c.py(t) + 4 << "' text-anchor='end'>" << number(t)
      << "</text>\n";
  for (double t : nice_ticks(c.x_lo, c.x_hi))
    s << "<line x1='" << c.px(t) << "' x2='" << c.px(t) << "' y1='" << c.top << "' y2='" << c.top + c.height
      << "' stroke='#e1e1e1'/><text x='" << c.px(t) << "' y='" << c.top + c.height + 16 << "' text-anchor='middle'>"
      << number(t) << "</text>\n";
  s << "<rect x='" << c.left << "' y='" << c.top << "' width='" << c.width << "' height='" << c.height
    << "' fill='none' stroke='#3c3c3c'/>\n<text x='" << c.left + c.width / 2 << "' y='" << c.top - 10
    << "' text-anchor='middle' font-size='15'>" << xml(c.metric + unit_of(c.metric)) << "</text>\n<text x='"
    << c.left + c.width / 2 << "' y='" << c.top + c.height + 38 << "' text-anchor='middle'>" << c.x_name << "</text>\n";
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto it = runs[r].metrics.find(c.metric);
    if (it == runs[r].metrics.end()) continue;
    s << "<polyline fill='none' stroke-width='2' stroke='" << rgb(r) << "' points='";
    for (size_t i = 0; i < runs[r].x.size(); ++i)
      if (std::isfinite(it->second[i])) s << c.px(runs[r].x[i]) << "," << c.py(it->second[i]) << " ";
    s << "'/>\n";
  }
  // The legend after the lines, on a white box, as in the PNG.
  s << "<rect x='" << c.left + c.width - 156 << "' y='" << c.top + 4 << "' width='152' height='"
    << 8 + 16 * runs.size() << "' fill='white' stroke='#e1e1e1'/>\n";
  for (size_t r = 0; r < runs.size(); ++r) {
    const int y = c.top + 16 + static_cast<int>(r) * 16, x = c.left + c.width - 150;
    s << "<line x1='" << x << "' x2='" << x + 20 << "' y1='" << y - 4 << "' y2='" << y - 4 << "' stroke-width='2' stroke='"
      << rgb(r) << "'/><text x='" << x + 26 << "' y='" << y << "'>" << xml(runs[r].label) << "</text>\n";
  }
}

}  // namespace

void plot_runs(const std::vector<RunSeries>& runs, const std::vector<std::string>& metrics, const std::string& png_path,
               const std::string& svg_path, const PlotOptions& o) {
  if (runs.empty()) throw std::invalid_argument("plot: no runs");
  if (metrics.empty()) throw std::invalid_argument("plot: no metrics");
  check_metrics(runs, metrics);
  const int height = o.chart_height * static_cast<int>(metrics.size());
  cv::Mat img(height, o.chart_width, CV_8UC3, cv::Scalar(255, 255, 255));
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << o.chart_width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  for (size_t i = 0; i < metrics.size(); ++i) {
    const Chart c = chart_for(runs, metrics[i], static_cast<int>(i), o);
    draw_chart(img, c, runs);
    svg_chart(svg, c, runs);
  }
  svg << "</svg>\n";
  std::vector<uchar> png;
  if (!cv::imencode(".png", img, png)) throw std::runtime_error(png_path + ": PNG encoding failed");
  write_file_atomic(png_path, std::string(png.begin(), png.end()));
  if (!svg_path.empty()) write_file_atomic(svg_path, svg.str());
}

}  // namespace attnzoo::viz
