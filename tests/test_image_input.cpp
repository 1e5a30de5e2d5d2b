// Image and IDX input under hostile headers (issue #19): sizes are checked before decoding, errors are one
// line naming the file, and the libpng decoder gives exactly what OpenCV's IMREAD_UNCHANGED path gave.
#include "test_util.h"

#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/input_limits.h>
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/image.h>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

using test::error_of;

std::string be32(uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

std::string png_header(uint32_t w, uint32_t h) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5) +
         be32(0);
}

// The previous decoder: OpenCV, IMREAD_UNCHANGED, 16 bit scaled by 1/257, BGR(A) -> RGB, gray kept.
at::Tensor opencv_reference(const std::vector<uchar>& bytes) {
  cv::Mat img = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2RGB);
  else if (img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  return torch::from_blob(img.data, {img.rows, img.cols, img.channels()}, at::kByte).clone();
}

TEST(ImageInput, PngDecodesAsOpenCVDid) {
  cv::RNG rng(7);
  for (int type : {CV_8UC1, CV_16UC1, CV_8UC3, CV_8UC4, CV_16UC3, CV_16UC4}) {
    cv::Mat m(13, 17, type);
    rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
    std::vector<uchar> png;
    ASSERT_TRUE(cv::imencode(".png", m, png));
    const at::Tensor ours = datasets::decode_image(std::string(png.begin(), png.end()), "t.png");
    const at::Tensor ref = opencv_reference(png);
    ASSERT_EQ(ours.sizes(), ref.sizes()) << "type " << type;
    EXPECT_TRUE(ours.equal(ref)) << "type " << type;
  }
}

TEST(ImageInput, JpegDecodesAsOpenCVDid) {
  cv::RNG rng(3);
  for (int type : {CV_8UC1, CV_8UC3}) {
    cv::Mat m(21, 34, type);
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(m, m, cv::Size(5, 5), 1.5);  // photo-like content: chroma subsampling matters
    std::vector<uchar> jpg;
    ASSERT_TRUE(cv::imencode(".jpg", m, jpg, {cv::IMWRITE_JPEG_QUALITY, 85}));
    const at::Tensor ours = datasets::decode_image(std::string(jpg.begin(), jpg.end()), "t.jpg");
    const at::Tensor ref = opencv_reference(jpg);
    ASSERT_EQ(ours.sizes(), ref.sizes()) << "type " << type;
    EXPECT_TRUE(ours.equal(ref)) << "type " << type;
  }
}

TEST(ImageInput, CorruptJpegIsOneWarningOrOneError) {
  cv::Mat m(64, 64, CV_8UC3);
  cv::randu(m, 0, 256);
  std::vector<uchar> jpg;
  ASSERT_TRUE(cv::imencode(".jpg", m, jpg));
  const std::string whole(jpg.begin(), jpg.end());
  testing::internal::CaptureStderr();
  EXPECT_EQ(error_of([&] { datasets::decode_image(whole.substr(0, whole.size() - 600), "cut.jpg"); }),
            "cut.jpg: cannot decode JPEG: truncated file");
  std::string damaged = whole;
  for (size_t i = damaged.size() - 900; i < damaged.size() - 870; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x55);
  std::vector<std::string> warnings;
  auto previous = set_warning_sink([&](const std::string& l) { warnings.push_back(l); });
  const at::Tensor t = datasets::decode_image(damaged, "bad.jpg");
  set_warning_sink(previous);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "libjpeg must not print";
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{64, 64, 3}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("bad.jpg: corrupt JPEG data, decoded anyway (", 0), 0u) << warnings[0];
}

TEST(ImageInput, SizesAreCheckedBeforeDecoding) {
  EXPECT_EQ(error_of([] { datasets::decode_image(png_header(31000, 31000), "huge.png"); }),
            "huge.png: image of 31000x31000 = 961000000 pixels exceeds the limit of 89478485 (--max-image-pixels)");
  EXPECT_EQ(error_of([] { datasets::decode_image(png_header(0, 5), "zero.png"); }),
            "zero.png: image header declares 0x5 pixels");
  const char sof[] = "\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9";
  const std::string jpeg(sof, sizeof sof - 1);
  EXPECT_EQ(error_of([&] { datasets::decode_image(jpeg, "big.jpg"); }),
            "big.jpg: image of 65535x65535 = 4294836225 pixels exceeds the limit of 89478485 (--max-image-pixels)");
  std::string bmp = "BM" + std::string(24, '\0');
  bmp[18] = bmp[19] = bmp[20] = 0x7f;  // width 0x007f7f7f
  bmp[22] = bmp[23] = bmp[24] = 0x7f;
  EXPECT_NE(error_of([&] { datasets::decode_image(bmp, "big.bmp"); }).find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(error_of([] { datasets::decode_image("GIF89a...", "x.gif"); }), "x.gif: not a PNG, JPEG, BMP or WebP image");
  // Within the pixel cap but far more rows than the file can hold even at deflate's best ratio (found by the
  // fuzzer: 1x83,886,083 RGBA pixels in 186 bytes took over 1 GB to fail).
  EXPECT_EQ(error_of([] { datasets::decode_image(png_header(1, 83886083), "tall.png"); })
                .rfind("tall.png: truncated PNG: its 1x83886083 pixels cannot fit in ", 0),
            0u);

  datasets::set_max_image_pixels(100);
  EXPECT_NE(error_of([] { datasets::decode_image(png_header(11, 10), "p.png"); }).find("exceeds the limit of 100"),
            std::string::npos);
  datasets::set_max_image_pixels(0);  // no limit: the header passes, the (missing) data fails cleanly
  EXPECT_EQ(error_of([] { datasets::decode_image(png_header(11, 10), "p.png"); }), "p.png: cannot decode PNG: IHDR: CRC error");
  datasets::set_max_image_pixels(kDefaultMaxImagePixels);
}

TEST(ImageInput, CorruptPngIsOneLineWithThePath) {
  cv::Mat m(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", m, png));
  std::string bad(png.begin(), png.end());
  bad[40] = static_cast<char>(bad[40] ^ 0xff);
  testing::internal::CaptureStderr();
  const std::string e = error_of([&] { datasets::decode_image(bad, "dir/bad.png"); });
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(e.rfind("dir/bad.png: cannot decode PNG: ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(printed, "") << "libpng must not print";
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

TEST(ImageInput, IdxCountsAreCheckedWhileReading) {
  const fs::path dir = test::temp_dir("idx_limits");
  const std::string labels = be32(2049) + be32(2) + std::string("\x00\x01", 2);
  write_bytes(dir / "train-labels-idx1-ubyte", labels);
  // Declares 2 images of 2x2 but holds 3.
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(2) + be32(2) + be32(2) + std::string(12, '\0'));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train"); }).find("train-images-idx3-ubyte: more data than its header declares"),
            std::string::npos);
  // Declares 2 GiB of pixels in a 20-byte file: refused before reading.
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(2739) + be32(28) + be32(28000) + std::string(4, '\0'));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train"); }).find("bytes of data in a 20-byte file"),
            std::string::npos);
  // A zero dimension (found by the fuzzer: it reached memcpy with a null destination), and counts whose
  // product overflows 64 bits (2^16 * 2^24 * 2^24 = 2^64 would wrap to 0 bytes).
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(2) + be32(2) + be32(0));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train"); }).find("train-images-idx3-ubyte: header declares a zero image dimension"),
            std::string::npos);
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(1u << 16) + be32(1u << 24) + be32(1u << 24));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train"); }).find("header declares more data than any file can hold"),
            std::string::npos);
  // Truncated.
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(2) + be32(2) + be32(2) + std::string(5, '\0'));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train"); }).find("5 of 8 data bytes); truncated?"),
            std::string::npos);
  // A label outside a given class list names the record.
  write_bytes(dir / "train-images-idx3-ubyte", be32(2051) + be32(2) + be32(2) + be32(2) + std::string(8, '\0'));
  EXPECT_NE(error_of([&] { datasets::open_idx(dir.string(), "train", {"only"}); }).find("record 1 has label 1, outside the 1 classes"),
            std::string::npos);
}

}  // namespace
