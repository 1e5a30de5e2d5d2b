#pragma once
// Released weights on disk, the way torch.hub and timm keep them: looked up by file name in the
// checkpoint folders (so a file a user already downloaded for Python is reused), verified against the
// sha256 prefix that torch.hub-style names carry, and fetched only when asked (`--download`).
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace attnzoo::checkpoint {

/// The folders searched for released weights, in this order:
///   $ATTNZOO_HOME/checkpoints          (ATTNZOO_HOME defaults to $XDG_CACHE_HOME/attnzoo, ~/.cache/attnzoo)
///   $TORCH_HOME/hub/checkpoints        (TORCH_HOME defaults to $XDG_CACHE_HOME/torch, ~/.cache/torch:
///                                       where torch.hub.load_state_dict_from_url and timm put them)
/// Downloads go to the first one.
std::vector<std::filesystem::path> weights_dirs();

/// The first of weights_dirs() that holds a file named `file_name` (no hash check), if any.
std::optional<std::filesystem::path> local_weights(const std::string& file_name);

/// torch.hub's convention (`HASH_REGEX = r"-([a-f0-9]*)\."`): the hex digits between the first '-' that
/// is followed by hex digits and a '.' are the leading digits of the file's sha256
/// ("halonet26t_a1h_256-3083328c.pth" -> "3083328c"). Empty when the name carries none.
std::string hash_prefix_of(const std::string& file_name);

/// Lower-case hex sha256 of a file's contents.
std::string sha256_of_file(const std::filesystem::path& path);

/// Throws "<path>: sha256 <actual...> does not start with <prefix> ..." when the file's hash does not
/// match the prefix its name carries (nothing to check when it carries none).
void verify_hash_prefix(const std::filesystem::path& path);

/// Where released weights named `file_name` are, or may be fetched from.
struct WeightsSource {
  std::string file_name;  // e.g. "van_tiny_754.pth.tar"
  std::string url;        // where the authors released it (http(s):// or, for tests, file://)
};

/// Called while downloading: bytes received so far and the total (0 while unknown).
using DownloadProgress = std::function<void(uint64_t received, uint64_t total)>;

/// A DownloadProgress that keeps one line on stderr up to date ("downloading: 12.5 / 110.3 MB").
DownloadProgress print_download_progress();

/// Copies `url` to `dest` atomically: written to a temporary file beside it, hash-checked against the
/// prefix in dest's file name, then renamed into place; on any failure nothing is left at `dest`.
/// http, https and file URLs only; redirects followed; an HTTP error status is an error.
void download_file(const std::string& url, const std::filesystem::path& dest, const DownloadProgress& progress = {});

/// The path of the weights: the first of weights_dirs() that holds `src.file_name` (hash-checked); if none
/// does and `download` is set, downloads it into the first folder; otherwise throws one line giving the
/// URL and the exact path to place the file at.
std::filesystem::path find_weights(const WeightsSource& src, bool download, const DownloadProgress& progress = {});

/// The same over several sources of the same weights (the authors' release first, then mirrors such as timm's
/// Hugging Face copy): a local copy of any of them wins; else, with `download`, each URL is tried in order until
/// one succeeds; the error names every source and why it failed.
std::filesystem::path find_any_weights(const std::vector<WeightsSource>& sources, bool download,
                                   const DownloadProgress& progress = {});

}  // namespace attnzoo::checkpoint
