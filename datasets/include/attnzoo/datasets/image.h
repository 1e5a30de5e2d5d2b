#pragma once
// Image files: the header is read and checked (format, size, pixel budget) before anything is decoded,
// and every failure is one line naming the file.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnzoo::datasets {

enum class ImageFormat { Png, Jpeg, Bmp, WebP };

struct ImageHeader {
  ImageFormat format;
  int64_t width = 0, height = 0;
};

/// Format and size from the first bytes of an image file (PNG, JPEG, BMP or WebP); throws
/// std::runtime_error("<what>: ...") for other or malformed headers.
ImageHeader read_image_header(const std::string& bytes, const std::string& what);

/// Decoded pixels allowed per image (default kDefaultMaxImagePixels, Pillow's limit); 0 means no limit.
/// The CLI's --max-image-pixels sets it.
void set_max_image_pixels(int64_t pixels);
int64_t max_image_pixels();

/// Decodes an image held in memory to HWC uint8 RGB (or 1-channel gray). `what` names it in errors.
at::Tensor decode_image(const std::string& bytes, const std::string& what);

/// Decodes an image file to HWC uint8 RGB (or 1-channel gray); throws naming the file when corrupt,
/// unsupported, or larger than max_image_pixels().
at::Tensor read_image(const std::string& path);

/// Whether `path` names an image attnzoo reads, by extension (.jpg .jpeg .png .bmp .webp, any case).
bool is_image_file(const std::string& path);

/// The image files named by `inputs`: files as given, folders searched recursively for image files (in natural
/// order). Throws std::invalid_argument naming an input that does not exist or a folder without images.
std::vector<std::string> list_image_files(const std::vector<std::string>& inputs);

}  // namespace attnzoo::datasets
