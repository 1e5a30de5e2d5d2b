#pragma once
// A multi-threaded batch loader: decode + augment on worker threads, a bounded prefetch window,
// batches delivered in order. Deterministic: the sample order depends on (seed, epoch) and each
// sample's augmentation on (seed, epoch, index), so the result is the same for any worker count,
// and an epoch can be resumed at any batch. Shards by (rank, world_size) like DistributedSampler.
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/transforms.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace attnzoo::datasets {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = true;
  int workers = 2;
  int prefetch = 4;  // batches ready ahead of the consumer
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  bool skip_bad_images = false;  // else: the first unreadable image stops the epoch with its path
};

struct Batch {
  at::Tensor images;  // [B, C, H, W] float32
  at::Tensor labels;  // [B] int64
  int64_t index = 0;  // batch index within the epoch
};

/// The indices rank `rank` sees in `epoch` (shuffled by (seed, epoch), padded to a multiple of
/// world_size by wrapping around, then strided), truncated to whole batches when drop_last.
std::vector<int64_t> epoch_indices(size_t dataset_size, int64_t epoch, const LoaderOptions& o);

/// Seed of a sample's augmentation generator.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

class Loader {
 public:
  Loader(DatasetPtr dataset, Transform transform, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t num_batches() const;
  int64_t num_samples() const;
  /// Starts producing the batches of `epoch` from batch `first_batch` on (resume mid-epoch).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// The next batch in order; nullopt at the end of the epoch. Rethrows worker errors.
  std::optional<Batch> next();
  /// Images skipped as unreadable in the current epoch (with skip_bad_images).
  int64_t skipped() const;
  std::vector<std::string> skipped_messages() const;
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return o_; }

 private:
  void stop();
  void work(int worker, int64_t first);
  Batch make_batch(int64_t b);

  DatasetPtr dataset_;
  Transform transform_;
  LoaderOptions o_;
  std::vector<int64_t> indices_;
  int64_t epoch_ = 0, next_ = 0, end_ = 0;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable ready_, space_;
  std::map<int64_t, Batch> done_;
  std::exception_ptr error_;
  bool stopping_ = false;
  int64_t skipped_ = 0;
  std::vector<std::string> skipped_messages_;
};

}  // namespace attnzoo::datasets
