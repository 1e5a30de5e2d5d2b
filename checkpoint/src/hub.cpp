#include <attnzoo/checkpoint/hub.h>

#include <attnzoo/checkpoint/safetensors.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <unistd.h>

namespace attnzoo::checkpoint {

namespace fs = std::filesystem;

namespace {

fs::path env_path(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? fs::path(v) : fs::path();
}

// $XDG_CACHE_HOME, else ~/.cache (what torch.hub uses for TORCH_HOME's default too).
fs::path cache_home() {
  if (fs::path xdg = env_path("XDG_CACHE_HOME"); !xdg.empty()) return xdg;
  const fs::path home = env_path("HOME");
  return (home.empty() ? fs::temp_directory_path() : home) / ".cache";
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string to_hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

struct Transfer {
  std::ofstream* out;
  const DownloadProgress* progress;
};

size_t write_chunk(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->out->write(data, static_cast<std::streamsize>(size * count));
  return static_cast<bool>(*t->out) ? size * count : 0;  // a short count makes curl stop with CURLE_WRITE_ERROR
}

int report_progress(void* user, curl_off_t total, curl_off_t received, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (*t->progress) (*t->progress)(static_cast<uint64_t>(received), static_cast<uint64_t>(total));
  return 0;
}

// One transfer of `url` into `out`; throws with curl's reason.
void fetch(const std::string& url, std::ofstream& out, const DownloadProgress& progress) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) throw std::runtime_error("libcurl failed to initialise");
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("libcurl failed to initialise");
  Transfer t{&out, &progress};
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_chunk);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, report_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "attnzoo");
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) throw std::runtime_error(url + ": download failed (" + (*error ? error : curl_easy_strerror(rc)) + ")");
}

// What torch.save (a zip, or the legacy pickle stream) and safetensors files begin with. Hosts that want a
// browser (Google Drive's confirmation page, a login wall) answer with HTML instead, with status 200.
// The sha256 of `file` when it does not start with `prefix` (the hash a torch.hub-style name carries); "" when
// it does or when there is no prefix to check.
std::string sha256_mismatch(const fs::path& file, const std::string& prefix) {
  if (prefix.empty()) return "";
  const std::string actual = sha256_of_file(file);
  return actual.compare(0, prefix.size(), prefix) == 0 ? "" : actual;
}

bool looks_like_weights(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[4] = {0, 0, 0, 0};
  in.read(head, 4);
  if (in.gcount() == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return true;
  if (in.gcount() >= 1 && static_cast<unsigned char>(head[0]) == 0x80) return true;
  return looks_like_safetensors(path.string());
}

}  // namespace

DownloadProgress print_download_progress() {
  struct State {
    uint64_t last_mb = ~uint64_t{0};
    bool finished = false;
  };
  auto state = std::make_shared<State>();
  return [state](uint64_t received, uint64_t total) {
    const uint64_t mb = received >> 20;
    const bool done = total > 0 && received == total;
    if (state->finished || (mb == state->last_mb && !done)) return;  // one update per MiB, one final line
    state->last_mb = mb;
    state->finished = done;
    std::fprintf(stderr, "\rdownloading: %.1f", received / 1048576.0);
    if (total > 0) std::fprintf(stderr, " / %.1f", total / 1048576.0);
    std::fprintf(stderr, " MiB%s", done ? "\n" : "");
    std::fflush(stderr);
  };
}

std::vector<fs::path> weights_dirs() {
  fs::path attnzoo_home = env_path("ATTNZOO_HOME");
  if (attnzoo_home.empty()) attnzoo_home = cache_home() / "attnzoo";
  fs::path torch_home = env_path("TORCH_HOME");
  if (torch_home.empty()) torch_home = cache_home() / "torch";
  return {attnzoo_home / "checkpoints", torch_home / "hub" / "checkpoints"};
}

std::optional<fs::path> local_weights(const std::string& file_name) {
  for (const fs::path& dir : weights_dirs())
    if (fs::is_regular_file(dir / file_name)) return dir / file_name;
  return std::nullopt;
}

std::string hash_prefix_of(const std::string& file_name) {
  for (size_t i = 0; i < file_name.size(); ++i) {
    if (file_name[i] != '-') continue;
    size_t j = i + 1;
    while (j < file_name.size() && is_lower_hex(file_name[j])) ++j;
    if (j < file_name.size() && file_name[j] == '.') return file_name.substr(i + 1, j - i - 1);
  }
  return "";
}

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256: OpenSSL failed");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  return to_hex(digest, n);
}

void verify_hash_prefix(const fs::path& path) {
  const std::string prefix = hash_prefix_of(path.filename().string());
  if (const std::string actual = sha256_mismatch(path, prefix); !actual.empty())
    throw std::runtime_error(path.string() + ": sha256 " + actual + " does not start with " + prefix +
                             ", the hash its name carries (corrupt or incomplete file: delete it and download again)");
}

void download_file(const std::string& url, const fs::path& dest, const DownloadProgress& progress) {
  if (!dest.parent_path().empty()) fs::create_directories(dest.parent_path());
  // Same folder as the destination, so the final rename is atomic; the pid keeps concurrent runs apart.
  const fs::path partial = dest.string() + ".partial." + std::to_string(::getpid());
  try {
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error(partial.string() + ": cannot write");
      fetch(url, out, progress);
      const auto size = static_cast<uint64_t>(out.tellp());
      if (progress) progress(size, size);  // the final line, also when the size was never announced
      out.close();
      if (!out) throw std::runtime_error(partial.string() + ": write failed (disk full?)");
    }
    if (!looks_like_weights(partial))
      throw std::runtime_error(url + ": the server did not send a checkpoint (an HTML page? some hosts need a browser): "
                               "download it by hand and place it at " + dest.string());
    // Checked under the final name's rule before anything appears at `dest`.
    const std::string prefix = hash_prefix_of(dest.filename().string());
    if (const std::string actual = sha256_mismatch(partial, prefix); !actual.empty())
      throw std::runtime_error(url + ": downloaded file's sha256 " + actual + " does not start with " + prefix +
                               " (the hash in " + dest.filename().string() + "); nothing was written");
    fs::rename(partial, dest);
  } catch (...) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    throw;
  }
}

fs::path find_weights(const WeightsSource& src, bool download, const DownloadProgress& progress) {
  if (const auto found = local_weights(src.file_name)) {
    verify_hash_prefix(*found);
    return *found;
  }
  const std::vector<fs::path> dirs = weights_dirs();
  const fs::path dest = dirs.front() / src.file_name;
  if (!download)
    throw std::runtime_error(src.file_name + " not found in " + dirs[0].string() + " or " + dirs[1].string() +
                             ": download it from " + src.url + " and place it at " + dest.string() +
                             " (or pass --download)");
  download_file(src.url, dest, progress);
  return dest;
}

fs::path find_any_weights(const std::vector<WeightsSource>& sources, bool download, const DownloadProgress& progress) {
  if (sources.empty()) throw std::invalid_argument("find_weights: no source");
  for (const auto& src : sources)
    if (const auto found = local_weights(src.file_name)) {
      verify_hash_prefix(*found);
      return *found;
    }
  if (!download || sources.size() == 1) return find_weights(sources.front(), download, progress);
  std::string failures;
  for (const auto& src : sources) {
    try {
      return find_weights(src, true, progress);
    } catch (const std::exception& e) {
      failures += (failures.empty() ? "" : "; ") + src.url + ": " + e.what();
    }
  }
  throw std::runtime_error("no source of " + sources.front().file_name + " could be downloaded (" + failures + ")");
}

}  // namespace attnzoo::checkpoint
