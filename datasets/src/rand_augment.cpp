// RandAugment with timm's operation set and magnitude rules (timm/data/auto_augment.py):
// n ops per image drawn uniformly from the list, each applied with probability p, magnitude
// m + N(0, mstd) clipped to [0, 10]; "inc1" selects the variants whose strength increases with m.
#include <attnzoo/datasets/transforms.h>

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace attnzoo::datasets {
namespace {

constexpr double kMaxLevel = 10.0;
enum class Op { AutoContrast, Equalize, Invert, Rotate, Posterize, Solarize, SolarizeAdd, Color, Contrast, Brightness,
                Sharpness, ShearX, ShearY, TranslateX, TranslateY };
constexpr Op kOps[] = {Op::AutoContrast, Op::Equalize,  Op::Invert,   Op::Rotate,     Op::Posterize,
                       Op::Solarize,     Op::SolarizeAdd, Op::Color,  Op::Contrast,   Op::Brightness,
                       Op::Sharpness,    Op::ShearX,    Op::ShearY,   Op::TranslateX, Op::TranslateY};

double signed_level(double v, Rng& rng) { return std::uniform_int_distribution<int>(0, 1)(rng) ? v : -v; }

// out = a + f * (img - a), saturating (PIL ImageEnhance blend).
void blend(cv::Mat& img, const cv::Mat& degenerate, double f) {
  cv::Mat a, b;
  img.convertTo(a, CV_32F);
  degenerate.convertTo(b, CV_32F);
  cv::Mat out = b + (a - b) * f;
  out.convertTo(img, img.type());  // saturate_cast clamps to [0, 255]
}

cv::Mat gray_of(const cv::Mat& img) {
  if (img.channels() == 1) return img.clone();
  cv::Mat g, g3;
  cv::cvtColor(img, g, cv::COLOR_RGB2GRAY);
  cv::cvtColor(g, g3, cv::COLOR_GRAY2RGB);
  return g3;
}

void affine(cv::Mat& img, const cv::Mat& M) {
  cv::Mat out;
  cv::warpAffine(img, out, M, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(128));
  img = out;
}

// Per-pixel ops: AutoContrast, Equalize, Invert, Posterize, Solarize, SolarizeAdd.
void apply_pixel_op(Op op, cv::Mat& img, double frac, bool inc) {
  switch (op) {
    case Op::AutoContrast: {
      std::vector<cv::Mat> ch;
      cv::split(img, ch);
      for (auto& c : ch) {
        double lo, hi;
        cv::minMaxLoc(c, &lo, &hi);
        if (hi > lo) c.convertTo(c, CV_8U, 255.0 / (hi - lo), -lo * 255.0 / (hi - lo));
      }
      cv::merge(ch, img);
      break;
    }
    case Op::Equalize: {
      std::vector<cv::Mat> ch;
      cv::split(img, ch);
      for (auto& c : ch) cv::equalizeHist(c, c);
      cv::merge(ch, img);
      break;
    }
    case Op::Invert: img = cv::Scalar::all(255) - img; break;
    case Op::Posterize: {
      const int bits = inc ? 4 - static_cast<int>(frac * 4) : static_cast<int>(frac * 4) + 4;
      const uint8_t mask = static_cast<uint8_t>(~((1 << (8 - std::clamp(bits, 1, 8))) - 1));
      img &= cv::Scalar::all(mask);
      break;
    }
    case Op::Solarize: {
      const int thresh = inc ? 256 - static_cast<int>(frac * 256) : static_cast<int>(frac * 256);
      for (int r = 0; r < img.rows; ++r) {
        uint8_t* p = img.ptr<uint8_t>(r);
        for (int k = 0; k < img.cols * img.channels(); ++k)
          if (p[k] >= thresh) p[k] = static_cast<uint8_t>(255 - p[k]);
      }
      break;
    }
    case Op::SolarizeAdd: {
      const int add = static_cast<int>(frac * 110);
      for (int r = 0; r < img.rows; ++r) {
        uint8_t* p = img.ptr<uint8_t>(r);
        for (int k = 0; k < img.cols * img.channels(); ++k)
          if (p[k] < 128) p[k] = static_cast<uint8_t>(std::min(255, p[k] + add));
      }
      break;
    }
    default: break;
  }
}

// PIL ImageEnhance ops: blend with a degenerate image by a factor drawn from the magnitude.
void apply_enhance_op(Op op, cv::Mat& img, double frac, bool inc, Rng& rng) {
  // Increasing variants: 1 +- 0.9 * frac; classic: 0.1 + 1.8 * frac.
  const double f = inc ? 1.0 + signed_level(0.9 * frac, rng) : 0.1 + 1.8 * frac;
  if (op == Op::Color) {
    if (img.channels() == 3) blend(img, gray_of(img), f);
  } else if (op == Op::Contrast) {
    cv::Mat g = gray_of(img);
    const double mean = cv::mean(g)[0];
    blend(img, cv::Mat(img.size(), img.type(), cv::Scalar::all(mean)), f);
  } else if (op == Op::Brightness) {
    blend(img, cv::Mat::zeros(img.size(), img.type()), f);
  } else {
    cv::Mat k = (cv::Mat_<float>(3, 3) << 1, 1, 1, 1, 5, 1, 1, 1, 1) / 13.0f;
    cv::Mat smooth;
    cv::filter2D(img, smooth, -1, k, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
    blend(img, smooth, f);
  }
}

// Affine ops, the sign of the level drawn at random: Rotate, ShearX/Y, TranslateX/Y.
void apply_geometric_op(Op op, cv::Mat& img, double frac, Rng& rng) {
  switch (op) {
    case Op::Rotate: {
      const double deg = signed_level(30.0 * frac, rng);
      affine(img, cv::getRotationMatrix2D(cv::Point2f(img.cols / 2.f, img.rows / 2.f), deg, 1.0));
      break;
    }
    case Op::ShearX:
    case Op::ShearY: {
      const double s = signed_level(0.3 * frac, rng);
      cv::Mat M = op == Op::ShearX ? (cv::Mat_<double>(2, 3) << 1, s, 0, 0, 1, 0) : (cv::Mat_<double>(2, 3) << 1, 0, 0, s, 1, 0);
      affine(img, M);
      break;
    }
    case Op::TranslateX:
    case Op::TranslateY: {
      const double t = signed_level(0.45 * frac, rng);
      cv::Mat M = op == Op::TranslateX ? (cv::Mat_<double>(2, 3) << 1, 0, t * img.cols, 0, 1, 0)
                                       : (cv::Mat_<double>(2, 3) << 1, 0, 0, 0, 1, t * img.rows);
      affine(img, M);
      break;
    }
    default: break;
  }
}

void apply(Op op, cv::Mat& img, double m, bool inc, Rng& rng) {
  const double frac = m / kMaxLevel;
  switch (op) {
    case Op::Color:
    case Op::Contrast:
    case Op::Brightness:
    case Op::Sharpness: apply_enhance_op(op, img, frac, inc, rng); break;
    case Op::Rotate:
    case Op::ShearX:
    case Op::ShearY:
    case Op::TranslateX:
    case Op::TranslateY: apply_geometric_op(op, img, frac, rng); break;
    default: apply_pixel_op(op, img, frac, inc); break;
  }
}

}  // namespace

void rand_augment(at::Tensor& image, int layers, double magnitude, double mstd, bool increasing, double prob, Rng& rng) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == at::kByte && image.is_contiguous(), "rand_augment: HWC uint8");
  cv::Mat img(static_cast<int>(image.size(0)), static_cast<int>(image.size(1)), CV_8UC(static_cast<int>(image.size(2))),
              image.data_ptr());
  cv::Mat work = img.clone();
  std::uniform_int_distribution<size_t> pick(0, std::size(kOps) - 1);
  for (int l = 0; l < layers; ++l) {
    const Op op = kOps[pick(rng)];
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= prob) continue;
    double m = magnitude;
    if (mstd > 0) m = std::clamp(std::normal_distribution<double>(magnitude, mstd)(rng), 0.0, kMaxLevel);
    apply(op, work, m, increasing, rng);
  }
  work.copyTo(img);
}

}  // namespace attnzoo::datasets
