#include <attnzoo/datasets/image.h>

#include <attnzoo/core/natural_sort.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace attnzoo::datasets {
namespace fs = std::filesystem;

bool is_image_file(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp" || e == ".webp";
}

std::vector<std::string> list_image_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && is_image_file(it->path().string())) found.push_back(it->path().string());
      if (found.empty()) throw std::invalid_argument(input + ": no image files (.jpg .jpeg .png .bmp .webp) in this folder");
      std::sort(found.begin(), found.end(), natural_less);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(input, ec)) {
      files.push_back(input);
    } else {
      throw std::invalid_argument(input + ": no such file or folder");
    }
  }
  return files;
}

}  // namespace attnzoo::datasets
