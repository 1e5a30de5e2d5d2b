#pragma once
// Drawing helpers every picture of attnzoo_viz shares (OpenCV, anti-aliased Hershey text).
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <string>

namespace attnzoo::viz::detail {

/// A value as a short label ("%.4g").
inline std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// Dark grey text with its baseline at `at`; `right`: `at` is its right end, `centre`: its middle.
inline void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.42, bool right = false,
                 bool centre = false) {
  int base = 0;
  const cv::Size size = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  if (right) at.x -= size.width;
  if (centre) at.x -= size.width / 2;
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(40, 40, 40), 1, cv::LINE_AA);
}

}  // namespace attnzoo::viz::detail
