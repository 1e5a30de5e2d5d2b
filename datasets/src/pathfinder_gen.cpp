// Pathfinder generator (the task of Linsley et al. 2018, as packaged by LRA): dashed curvy paths with two
// markers; is there a path between the markers? Geometry is drawn at kScale x the output size and
// area-downsampled, so the released look (thin anti-aliased gray dashes) holds at 32 x 32.
#include <attnzoo/datasets/lra.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>

namespace attnzoo::datasets {

namespace fs = std::filesystem;

namespace {

constexpr int kScale = 4;

struct Geometry {  // in high-resolution pixels
  double paddle, gap, thickness, separation, margin, marker;
};

Geometry geometry(int64_t size) {
  const double s = static_cast<double>(size) * kScale;
  // Relative to the image: at 32 px a paddle is ~1.9 px long, ~0.8 px thick, ~1.3 px apart (the round caps leave ~0.5 px gaps); paths keep
  // ~1 px apart; marker discs have a ~1.6 px radius.
  return {0.06 * s, 0.04 * s, std::max(1.0, 0.025 * s), 0.03 * s, 0.03 * s, 0.05 * s};
}

using Path = std::vector<std::pair<cv::Point2d, cv::Point2d>>;  // paddles (start, end)

void draw_paddle(cv::Mat& m, const std::pair<cv::Point2d, cv::Point2d>& p, double thickness) {
  cv::line(m, cv::Point(cvRound(p.first.x), cvRound(p.first.y)), cv::Point(cvRound(p.second.x), cvRound(p.second.y)),
           cv::Scalar(255), std::max(1, cvRound(thickness)), cv::LINE_8);
}

// True when the segment stays inside the margins and every sample point is free in `occupied`.
bool free_segment(const cv::Mat& occupied, const std::pair<cv::Point2d, cv::Point2d>& p, double margin) {
  const double w = occupied.cols, h = occupied.rows;
  for (int k = 0; k <= 8; ++k) {
    const cv::Point2d q = p.first + (p.second - p.first) * (k / 8.0);
    if (q.x < margin || q.y < margin || q.x > w - 1 - margin || q.y > h - 1 - margin) return false;
    if (occupied.at<uint8_t>(cvRound(q.y), cvRound(q.x))) return false;
  }
  return true;
}

// One random path of n paddles avoiding `occupied` (which holds the other paths widened by the separation)
// and itself; on success its widened paddles are added to `occupied`.
std::optional<Path> random_path(std::mt19937_64& rng, cv::Mat& occupied, int64_t n, const Geometry& g, double max_turn) {
  std::uniform_real_distribution<double> ux(g.margin, occupied.cols - 1 - g.margin), uy(g.margin, occupied.rows - 1 - g.margin),
      ua(0, 2 * M_PI), turn(-max_turn, max_turn);
  const int widened = cvRound(g.thickness + 2 * g.separation);
  for (int attempt = 0; attempt < 200; ++attempt) {
    cv::Mat occ = occupied.clone();
    cv::Point2d p(ux(rng), uy(rng));
    double a = ua(rng);
    Path path;
    bool ok = true;
    for (int64_t k = 0; k < n && ok; ++k) {
      bool placed = false;
      for (int t = 0; t < 10 && !placed; ++t) {  // a few tries for the bend of this paddle
        const double b = k == 0 ? a : a + turn(rng);
        const cv::Point2d start = k == 0 ? p : path.back().second + cv::Point2d(std::cos(b), std::sin(b)) * g.gap;
        const std::pair<cv::Point2d, cv::Point2d> seg{start, start + cv::Point2d(std::cos(b), std::sin(b)) * g.paddle};
        if (!free_segment(occ, seg, g.margin)) continue;
        // The previous paddle joins the obstacles only now: a path may not fold back onto itself.
        if (!path.empty()) draw_paddle(occ, path.back(), widened);
        path.push_back(seg);
        a = b;
        placed = true;
      }
      ok = placed;
    }
    if (!ok) continue;
    draw_paddle(occ, path.back(), widened);
    occupied = occ;
    return path;
  }
  return std::nullopt;
}

// One image and its label; nullopt when the paths did not fit (the caller draws again).
std::optional<std::pair<cv::Mat, int>> draw_sample(std::mt19937_64& rng, const PathfinderGeneratorOptions& o) {
  const Geometry g = geometry(o.image_size);
  const int S = static_cast<int>(o.image_size) * kScale;
  cv::Mat occupied = cv::Mat::zeros(S, S, CV_8U), canvas = cv::Mat::zeros(S, S, CV_8U);
  auto a = random_path(rng, occupied, o.contour_length, g, o.max_turn);
  if (!a) return std::nullopt;
  auto b = random_path(rng, occupied, o.contour_length, g, o.max_turn);
  if (!b) return std::nullopt;
  std::vector<Path> paths{*a, *b};
  const int64_t dl = std::max<int64_t>(1, o.contour_length / 3);
  for (int64_t d = 0; d < o.distractors; ++d)
    if (auto p = random_path(rng, occupied, dl, g, o.max_turn)) paths.push_back(*p);  // best effort
  const int label = std::bernoulli_distribution(0.5)(rng) ? 1 : 0;
  const bool b_front = std::bernoulli_distribution(0.5)(rng);
  // Marker 1 on path a; marker 2 on a's other end (label 1) or an end of b (label 0).
  const std::pair<cv::Point2d, size_t> markers[2] = {{a->front().first, 0},
                                                     {label ? a->back().second : (b_front ? b->front().first : b->back().second),
                                                      label ? size_t{0} : size_t{1}}};
  // A marker must not touch any path but its own (that would connect or hide paths).
  for (const auto& [m, own] : markers) {
    cv::Mat others = cv::Mat::zeros(S, S, CV_8U), disc = cv::Mat::zeros(S, S, CV_8U);
    for (size_t i = 0; i < paths.size(); ++i)
      if (i != own)
        for (const auto& seg : paths[i]) draw_paddle(others, seg, g.thickness + 2 * g.separation);
    cv::circle(disc, cv::Point(cvRound(m.x), cvRound(m.y)), cvRound(g.marker), cv::Scalar(255), cv::FILLED);
    if (cv::countNonZero(others & disc) > 0) return std::nullopt;
  }
  for (const auto& p : paths)
    for (const auto& seg : p) draw_paddle(canvas, seg, g.thickness);
  for (const auto& [m, own] : markers)
    cv::circle(canvas, cv::Point(cvRound(m.x), cvRound(m.y)), cvRound(g.marker), cv::Scalar(255), cv::FILLED);
  cv::Mat out;
  cv::resize(canvas, out, cv::Size(static_cast<int>(o.image_size), static_cast<int>(o.image_size)), 0, 0, cv::INTER_AREA);
  return std::make_pair(out, label);
}

}  // namespace

void write_pathfinder_dataset(const std::string& root, int64_t count, const PathfinderGeneratorOptions& o) {
  if (count < 1 || o.image_size < 16 || o.contour_length < 2 || o.per_folder < 1 || o.distractors < 0 || o.max_turn < 0)
    throw std::invalid_argument("make-pathfinder: need count >= 1, size >= 16, contour length >= 2, per-folder >= 1");
  std::mt19937_64 rng(o.seed);
  fs::create_directories(fs::path(root) / "metadata");
  std::ofstream meta;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t folder = i / o.per_folder;
    if (i % o.per_folder == 0) {
      fs::create_directories(fs::path(root) / "imgs" / std::to_string(folder));
      meta.close();
      const auto mp = fs::path(root) / "metadata" / (std::to_string(folder) + ".npy");  // text, as released
      meta.open(mp);
      if (!meta) throw std::runtime_error(mp.string() + ": cannot write");
    }
    std::optional<std::pair<cv::Mat, int>> s;
    for (int attempt = 0; attempt < 1000 && !s; ++attempt) s = draw_sample(rng, o);
    if (!s)
      throw std::runtime_error("make-pathfinder: two paths of " + std::to_string(o.contour_length) +
                               " paddles do not fit in " + std::to_string(o.image_size) + " px; use a shorter --contour-length");
    const std::string name = "sample_" + std::to_string(i) + ".png";
    const auto path = fs::path(root) / "imgs" / std::to_string(folder) / name;
    if (!cv::imwrite(path.string(), s->first)) throw std::runtime_error(path.string() + ": cannot write");
    meta << "imgs/" << folder << " " << name << " " << i << " " << s->second << " " << o.contour_length << " "
         << o.distractors << "\n";
  }
  if (!meta) throw std::runtime_error(root + ": writing metadata failed");
}

}  // namespace attnzoo::datasets
