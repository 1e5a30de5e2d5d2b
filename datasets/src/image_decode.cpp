// Image decoding: our own header parsing decides whether an image may be decoded at all; PNG and JPEG go
// through libpng / libjpeg with handlers that collect their messages (OpenCV's print "libpng error:" and
// "Corrupt JPEG data:" lines without the file name), BMP and WebP through OpenCV.
#include <attnzoo/datasets/image.h>

#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/core/input_limits.h>

#include <ATen/ATen.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <png.h>
// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>

#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <stdexcept>

namespace attnzoo::datasets {
namespace {

std::atomic<int64_t> g_max_pixels{kDefaultMaxImagePixels};

[[noreturn]] void fail(const std::string& what, const std::string& msg) { throw std::runtime_error(what + ": " + msg); }

uint32_t be(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(k)]);
  return v;
}
uint32_t le(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(k)]);
  return v;
}
bool starts(const std::string& b, size_t at, const char* magic) {
  const size_t n = std::strlen(magic);
  return b.size() >= at + n && b.compare(at, n, magic) == 0;
}

// JPEG: walk the marker segments from SOI to the first start-of-frame, which holds the size.
ImageHeader jpeg_header(const std::string& b, const std::string& what) {
  for (size_t at = 2; at + 4 <= b.size();) {
    if (static_cast<uint8_t>(b[at]) != 0xFF) fail(what, "corrupt JPEG (no marker at byte " + std::to_string(at) + ")");
    const uint8_t marker = static_cast<uint8_t>(b[at + 1]);
    if (marker == 0xFF) { ++at; continue; }  // fill byte
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { at += 2; continue; }
    const size_t length = be(b, at + 2, 2);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (at + 9 > b.size()) break;
      return {ImageFormat::Jpeg, be(b, at + 7, 2), be(b, at + 5, 2)};
    }
    if (marker == 0xD9 || length < 2) break;
    at += 2 + length;
  }
  fail(what, "corrupt or truncated JPEG (no frame header)");
}

ImageHeader webp_header(const std::string& b, const std::string& what) {
  if (starts(b, 12, "VP8X") && b.size() >= 30) return {ImageFormat::WebP, le(b, 24, 3) + 1, le(b, 27, 3) + 1};
  if (starts(b, 12, "VP8L") && b.size() >= 25) {
    const uint32_t bits = le(b, 21, 4);
    return {ImageFormat::WebP, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (starts(b, 12, "VP8 ") && b.size() >= 30) return {ImageFormat::WebP, le(b, 26, 2) & 0x3FFF, le(b, 28, 2) & 0x3FFF};
  fail(what, "corrupt or truncated WebP header");
}

void check_size(const ImageHeader& h, const std::string& what) {
  constexpr int64_t kMaxSide = 0x7FFFFFFF;  // PNG's limit; OpenCV's sizes are int
  if (h.width <= 0 || h.height <= 0 || h.width > kMaxSide || h.height > kMaxSide)
    fail(what, "image header declares " + std::to_string(h.width) + "x" + std::to_string(h.height) + " pixels");
  const int64_t cap = max_image_pixels();
  if (cap > 0 && h.width * h.height > cap)
    fail(what, "image of " + std::to_string(h.width) + "x" + std::to_string(h.height) + " = " +
                   std::to_string(h.width * h.height) + " pixels exceeds the limit of " + std::to_string(cap) +
                   " (--max-image-pixels)");
}

struct PngSource {
  const std::string* bytes;
  size_t at;
  char message[256];
};

void png_read_from(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->bytes->size() - src->at) png_error(png, "truncated file");
  std::memcpy(out, src->bytes->data() + src->at, n);
  src->at += n;
}
void png_record_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof(src->message), "%s", msg);
  png_longjmp(png, 1);
}
void png_ignore_warning(png_structp, png_const_charp) {}

// libpng's classic API, transformed as OpenCV's IMREAD_UNCHANGED + our channel handling did: palettes and
// low bit depths expanded, 16-bit scaled to 8 (round(x / 257)), gray kept 1-channel, alpha dropped.
// No objects with destructors live across the setjmp (libpng reports errors by longjmp).
at::Tensor decode_png(const std::string& bytes, const ImageHeader& h, const std::string& what) {
  // Every row holds a filter byte and at least one bit per pixel, and deflate shrinks data at most 1032:1:
  // a file too small to hold the rows its header declares is truncated, whatever it claims (refused before
  // allocating the image; a 186-byte file declaring 1x83,886,083 RGBA pixels would have taken 1 GB).
  const double min_data = static_cast<double>(h.height) * (1.0 + std::ceil(static_cast<double>(h.width) / 8.0));
  if (static_cast<double>(bytes.size()) * 1032.0 < min_data)
    fail(what, "truncated PNG: its " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                   " pixels cannot fit in " + std::to_string(bytes.size()) + " bytes");
  PngSource src{&bytes, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_record_error, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    fail(what, "out of memory for the PNG decoder");
  }
  at::Tensor rgba = at::empty({h.height, h.width, 4}, at::kByte);  // the widest output; narrowed below
  int channels = 0;
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_set_read_fn(png, &src, png_read_from);
    png_set_user_limits(png, static_cast<png_uint_32>(h.width), static_cast<png_uint_32>(h.height));
    png_read_info(png, info);
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_strip_alpha(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    channels = png_get_channels(png, info);
    if (png_get_image_width(png, info) != h.width || png_get_image_height(png, info) != h.height || channels < 1 ||
        channels > 3 || png_get_rowbytes(png, info) != static_cast<size_t>(h.width * channels))
      png_error(png, "unexpected layout after expansion");
    // Row by row into the image (each interlace pass refines rows in place), so no row-pointer table
    // (8 bytes per row) is needed.
    auto* base = rgba.data_ptr<uint8_t>();
    for (int pass = 0; pass < passes; ++pass)
      for (int64_t y = 0; y < h.height; ++y) png_read_row(png, base + y * h.width * channels, nullptr);
    png_read_end(png, nullptr);
  } else {
    channels = -1;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (channels < 0) fail(what, std::string("cannot decode PNG: ") + src.message);
  return rgba.view({-1}).narrow(0, 0, h.height * h.width * channels).view({h.height, h.width, channels}).clone();
}

struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
  char first_warning[JMSG_LENGTH_MAX] = {0};
  int warnings = 0;
  bool truncated = false;
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrors*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
// libjpeg would print warnings ("Corrupt JPEG data: ...") to stderr; keep them for one warning line.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (level >= 0) return;  // trace messages
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
  if (err->warnings++ == 0) cinfo->err->format_message(cinfo, err->first_warning);
}

// libjpeg (the library OpenCV's decoder uses, with the same defaults: islow DCT, fancy upsampling), gray
// kept 1-channel, colour as RGB. Truncated data is an error (as in Pillow); other corrupt data decodes with
// one warning line naming the file. CMYK/YCCK files go to OpenCV, which converts them. No objects with
// destructors live across the setjmp.
at::Tensor decode_with_opencv(const std::string& bytes, const std::string& what);

at::Tensor decode_jpeg(const std::string& bytes, const ImageHeader& h, const std::string& what) {
  jpeg_decompress_struct cinfo;
  JpegErrors err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_on_error;
  err.pub.emit_message = jpeg_on_message;
  at::Tensor pixels = at::empty({h.height, h.width, 3}, at::kByte);  // the widest output; narrowed below
  int channels = 0;
  if (setjmp(err.jump) == 0) {
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
      channels = -2;
    } else {
      cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
      jpeg_start_decompress(&cinfo);
      channels = cinfo.output_components;
      if (cinfo.output_width != h.width || cinfo.output_height != h.height || (channels != 1 && channels != 3)) {
        std::snprintf(err.message, sizeof err.message, "unexpected layout %ux%ux%d", cinfo.output_width,
                      cinfo.output_height, channels);
        std::longjmp(err.jump, 1);
      }
      auto* base = pixels.data_ptr<uint8_t>();
      while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = base + static_cast<int64_t>(cinfo.output_scanline) * h.width * channels;
        jpeg_read_scanlines(&cinfo, &row, 1);
      }
      jpeg_finish_decompress(&cinfo);
    }
  } else {
    channels = -1;
  }
  jpeg_destroy_decompress(&cinfo);
  if (channels == -2) return decode_with_opencv(bytes, what);
  if (channels < 0) fail(what, std::string("cannot decode JPEG: ") + err.message);
  if (err.truncated) fail(what, "cannot decode JPEG: truncated file");
  if (err.warnings)
    warn(what + ": corrupt JPEG data, decoded anyway (" + err.first_warning +
         (err.warnings > 1 ? "; " + std::to_string(err.warnings - 1) + " more" : std::string()) + ")");
  return pixels.view({-1}).narrow(0, 0, h.height * h.width * channels).view({h.height, h.width, channels}).clone();
}

at::Tensor decode_with_opencv(const std::string& bytes, const std::string& what) {
  cv::Mat img;
  try {
    img = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
                       cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    fail(what, "cannot decode image (" + e.err + ")");
  }
  if (img.empty()) fail(what, "cannot decode image (corrupt or truncated)");
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2RGB);
  else if (img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  else if (img.channels() != 1) fail(what, "unsupported channel count " + std::to_string(img.channels()));
  at::Tensor t = at::empty({img.rows, img.cols, img.channels()}, at::kByte);
  cv::Mat dst(img.rows, img.cols, CV_8UC(img.channels()), t.data_ptr());
  img.copyTo(dst);
  return t;
}

}  // namespace

ImageHeader read_image_header(const std::string& b, const std::string& what) {
  if (starts(b, 0, "\x89PNG\r\n\x1a\n")) {
    if (b.size() < 24 || !starts(b, 12, "IHDR")) fail(what, "corrupt or truncated PNG header");
    return {ImageFormat::Png, be(b, 16, 4), be(b, 20, 4)};
  }
  if (b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8) return jpeg_header(b, what);
  if (starts(b, 0, "BM")) {
    if (b.size() < 26) fail(what, "corrupt or truncated BMP header");
    const int32_t w = static_cast<int32_t>(le(b, 18, 4)), hgt = static_cast<int32_t>(le(b, 22, 4));
    return {ImageFormat::Bmp, w, hgt < 0 ? -static_cast<int64_t>(hgt) : hgt};
  }
  if (starts(b, 0, "RIFF") && starts(b, 8, "WEBP")) return webp_header(b, what);
  fail(what, "not a PNG, JPEG, BMP or WebP image");
}

void set_max_image_pixels(int64_t pixels) {
  if (pixels < 0) throw std::invalid_argument("--max-image-pixels: must be >= 0 (0: no limit), got " + std::to_string(pixels));
  g_max_pixels = pixels;
}

int64_t max_image_pixels() { return g_max_pixels; }

at::Tensor decode_image(const std::string& bytes, const std::string& what) {
  const ImageHeader h = read_image_header(bytes, what);
  check_size(h, what);
  if (h.format == ImageFormat::Png) return decode_png(bytes, h, what);
  if (h.format == ImageFormat::Jpeg) return decode_jpeg(bytes, h, what);
  at::Tensor t = decode_with_opencv(bytes, what);
  if (t.size(0) != h.height || t.size(1) != h.width)
    fail(what, "decoded size " + std::to_string(t.size(1)) + "x" + std::to_string(t.size(0)) +
                   " differs from its header's " + std::to_string(h.width) + "x" + std::to_string(h.height));
  return t;
}

at::Tensor read_image(const std::string& path) { return decode_image(read_file_bytes(path), path); }

}  // namespace attnzoo::datasets
