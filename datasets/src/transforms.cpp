#include <attnzoo/datasets/transforms.h>

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <regex>
#include <stdexcept>

namespace attnzoo::datasets {
namespace {

int cv_interp(const std::string& s) {
  if (s == "bicubic") return cv::INTER_CUBIC;
  if (s == "bilinear") return cv::INTER_LINEAR;
  if (s == "nearest") return cv::INTER_NEAREST;
  if (s == "area") return cv::INTER_AREA;
  if (s == "lanczos") return cv::INTER_LANCZOS4;
  throw std::invalid_argument("unknown interpolation '" + s + "' (bilinear, bicubic, nearest, area, lanczos)");
}

cv::Mat as_mat(const at::Tensor& t) {
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC(static_cast<int>(t.size(2))), t.data_ptr());
}

at::Tensor from_mat(const cv::Mat& m) {
  at::Tensor t = at::empty({m.rows, m.cols, m.channels()}, at::kByte);
  cv::Mat dst(m.rows, m.cols, CV_8UC(m.channels()), t.data_ptr());
  m.copyTo(dst);
  return t;
}

double uniform(Rng& rng, double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }

}  // namespace

Transform::Transform(TransformOptions options, bool train) : o_(std::move(options)), train_(train) {
  cv_interp(o_.interpolation);  // validate early
  if (train_ && !o_.auto_augment.empty()) {
    // timm syntax: rand-m9-n2-mstd0.5-inc1-p0.5 (sections in any order after "rand").
    static const std::regex sec(R"(^(m|n|mstd|inc|p)([0-9.]+)$)");
    std::stringstream ss(o_.auto_augment);
    std::string part;
    std::getline(ss, part, '-');
    if (part != "rand") throw std::invalid_argument("--aa " + o_.auto_augment + ": only RandAugment ('rand-...') is supported");
    ra_layers_ = 2;
    ra_magnitude_ = 9;
    while (std::getline(ss, part, '-')) {
      std::smatch m;
      if (!std::regex_match(part, m, sec)) throw std::invalid_argument("--aa " + o_.auto_augment + ": unknown section '" + part + "'");
      const double v = std::stod(m[2].str());
      if (m[1] == "m") ra_magnitude_ = v;
      else if (m[1] == "n") ra_layers_ = static_cast<int>(v);
      else if (m[1] == "mstd") ra_mstd_ = v;
      else if (m[1] == "inc") ra_increasing_ = v != 0;
      else ra_prob_ = v;
    }
  }
}

namespace {

// RandomResizedCrop's box: 10 tries at a random area / log-aspect, else a central crop clamped to the
// ratio range (torchvision).
cv::Rect random_resized_crop_box(int H, int W, const TransformOptions& o, Rng& rng) {
  const double area = double(H) * W;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(rng, o.scale[0], o.scale[1]);
    const double ar = std::exp(uniform(rng, std::log(o.ratio[0]), std::log(o.ratio[1])));
    const int cw = static_cast<int>(std::lround(std::sqrt(target * ar)));
    const int ch = static_cast<int>(std::lround(std::sqrt(target / ar)));
    if (cw > 0 && ch > 0 && cw <= W && ch <= H) {
      const int x = std::uniform_int_distribution<int>(0, W - cw)(rng);
      const int y = std::uniform_int_distribution<int>(0, H - ch)(rng);
      return {x, y, cw, ch};
    }
  }
  int w = W, h = H;
  const double in_ratio = double(W) / H;
  if (in_ratio < o.ratio[0]) {
    h = static_cast<int>(std::lround(w / o.ratio[0]));
  } else if (in_ratio > o.ratio[1]) {
    w = static_cast<int>(std::lround(h * o.ratio[1]));
  }
  return {(W - w) / 2, (H - h) / 2, w, h};
}

// Training geometry: RandomResizedCrop, or a plain resize with an optional padded random crop; then the flip.
cv::Mat train_geometry(const cv::Mat& m, const TransformOptions& o, int S, int interp, Rng& rng) {
  cv::Mat out;
  if (o.random_resized_crop) {
    cv::resize(m(random_resized_crop_box(m.rows, m.cols, o, rng)), out, cv::Size(S, S), 0, 0, interp);
  } else {
    if (m.rows != S || m.cols != S) cv::resize(m, out, cv::Size(S, S), 0, 0, interp);
    else out = m.clone();
    if (o.pad_crop > 0) {
      const int p = static_cast<int>(o.pad_crop);
      cv::Mat padded;
      cv::copyMakeBorder(out, padded, p, p, p, p, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      const int x = std::uniform_int_distribution<int>(0, 2 * p)(rng);
      const int y = std::uniform_int_distribution<int>(0, 2 * p)(rng);
      out = padded(cv::Rect(x, y, S, S)).clone();
    }
  }
  if (o.hflip > 0 && uniform(rng, 0, 1) < o.hflip) cv::flip(out, out, 1);
  return out;
}

// timm's eval geometry: resize the shorter side to img_size / crop_pct, then center crop.
cv::Mat eval_geometry(const cv::Mat& m, const TransformOptions& o, int S, int interp) {
  const int scaled = static_cast<int>(std::floor(S / o.crop_pct));
  const int H = m.rows, W = m.cols;
  int nh, nw;
  if (H <= W) {
    nh = scaled;
    nw = static_cast<int>(std::floor(double(scaled) * W / H));
  } else {
    nw = scaled;
    nh = static_cast<int>(std::floor(double(scaled) * H / W));
  }
  cv::Mat resized;
  if (nh != H || nw != W) cv::resize(m, resized, cv::Size(nw, nh), 0, 0, interp);
  else resized = m;
  const int y = static_cast<int>(std::lround((nh - S) / 2.0)), x = static_cast<int>(std::lround((nw - S) / 2.0));
  cv::Mat out = resized(cv::Rect(std::max(0, x), std::max(0, y), std::min(S, nw), std::min(S, nh))).clone();
  if (out.rows != S || out.cols != S) cv::resize(out, out, cv::Size(S, S), 0, 0, interp);
  return out;
}

// timm RandomErasing, mode 'pixel': a box of area 2%-33%, log-aspect in [log 0.3, log 3.3], filled with N(0,1).
void random_erase(at::Tensor& chw, Rng& rng) {
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = H * W * uniform(rng, 0.02, 1.0 / 3.0);
    const double ar = std::exp(uniform(rng, std::log(0.3), std::log(1.0 / 0.3)));
    const int64_t h = std::lround(std::sqrt(target * ar)), w = std::lround(std::sqrt(target / ar));
    if (w < W && h < H && w > 0 && h > 0) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, H - h)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, W - w)(rng);
      std::normal_distribution<float> nd(0.f, 1.f);
      at::Tensor noise = at::empty({C, h, w}, at::kFloat);
      float* p = noise.data_ptr<float>();
      for (int64_t k = 0; k < noise.numel(); ++k) p[k] = nd(rng);
      chw.narrow(1, top, h).narrow(2, left, w).copy_(noise);
      return;
    }
  }
}

}  // namespace

at::Tensor Transform::operator()(const at::Tensor& image, Rng& rng) const {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == at::kByte, "transform expects an HWC uint8 image");
  at::Tensor img = image.contiguous();
  const cv::Mat m = as_mat(img);
  const int S = static_cast<int>(o_.img_size);
  const int interp = cv_interp(o_.interpolation);
  cv::Mat out = train_ ? train_geometry(m, o_, S, interp, rng) : eval_geometry(m, o_, S, interp);
  // Channels: gray <-> RGB as the model wants.
  if (out.channels() == 1 && o_.in_chans == 3) cv::cvtColor(out, out, cv::COLOR_GRAY2RGB);
  else if (out.channels() == 3 && o_.in_chans == 1) cv::cvtColor(out, out, cv::COLOR_RGB2GRAY);
  at::Tensor t = from_mat(out);
  if (train_ && ra_layers_ > 0) rand_augment(t, ra_layers_, ra_magnitude_, ra_mstd_, ra_increasing_, ra_prob_, rng);
  at::Tensor chw = t.permute({2, 0, 1}).to(at::kFloat).div_(255.0);
  for (int64_t c = 0; c < chw.size(0); ++c) chw[c].sub_(o_.mean[c % 3]).div_(o_.std[c % 3]);
  if (train_ && o_.reprob > 0 && uniform(rng, 0, 1) < o_.reprob) random_erase(chw, rng);
  return chw;
}

at::Tensor smooth_one_hot(const at::Tensor& labels, int64_t num_classes, double smoothing) {
  const double off = smoothing / static_cast<double>(num_classes), on = 1.0 - smoothing + off;
  at::Tensor t = at::full({labels.size(0), num_classes}, off, at::kFloat);
  t.scatter_(1, labels.view({-1, 1}).to(at::kLong), on);
  return t;
}

namespace {
double sample_beta(double a, Rng& rng) {
  std::gamma_distribution<double> g(a, 1.0);
  const double x = g(rng), y = g(rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}
}  // namespace

at::Tensor mixup_batch(at::Tensor& x, const at::Tensor& labels, const MixupOptions& o, Rng& rng) {
  const at::Tensor y1 = smooth_one_hot(labels, o.num_classes, o.label_smoothing);
  double lam = 1.0;
  bool cutmix = false;
  if (o.active() && uniform(rng, 0, 1) < o.prob) {
    if (o.mixup_alpha > 0 && o.cutmix_alpha > 0) cutmix = uniform(rng, 0, 1) < o.switch_prob;
    else cutmix = o.cutmix_alpha > 0;
    lam = sample_beta(cutmix ? o.cutmix_alpha : o.mixup_alpha, rng);
  }
  if (lam == 1.0) return y1;
  const at::Tensor flipped = x.flip({0});
  if (cutmix) {
    // timm rand_bbox + lam correction by the real box area.
    const int64_t H = x.size(2), W = x.size(3);
    const double cut = std::sqrt(1.0 - lam);
    const int64_t ch = static_cast<int64_t>(H * cut), cw = static_cast<int64_t>(W * cut);
    const int64_t cy = std::uniform_int_distribution<int64_t>(0, H - 1)(rng);
    const int64_t cx = std::uniform_int_distribution<int64_t>(0, W - 1)(rng);
    const int64_t y0 = std::clamp<int64_t>(cy - ch / 2, 0, H), y1b = std::clamp<int64_t>(cy + ch / 2, 0, H);
    const int64_t x0 = std::clamp<int64_t>(cx - cw / 2, 0, W), x1b = std::clamp<int64_t>(cx + cw / 2, 0, W);
    if (y1b > y0 && x1b > x0)
      x.narrow(2, y0, y1b - y0).narrow(3, x0, x1b - x0).copy_(flipped.narrow(2, y0, y1b - y0).narrow(3, x0, x1b - x0));
    lam = 1.0 - double((y1b - y0) * (x1b - x0)) / double(H * W);
  } else {
    x.mul_(lam).add_(flipped, 1.0 - lam);
  }
  return y1 * lam + y1.flip({0}) * (1.0 - lam);
}

}  // namespace attnzoo::datasets
