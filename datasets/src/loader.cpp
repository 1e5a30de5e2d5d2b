#include <attnzoo/datasets/loader.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

namespace attnzoo::datasets {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix(splitmix(splitmix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

std::vector<int64_t> epoch_indices(size_t n, int64_t epoch, const LoaderOptions& o) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (o.shuffle) {
    // Fisher-Yates with our own draws: std::shuffle's algorithm is implementation-defined.
    Rng rng(splitmix(o.seed ^ 0x5151) ^ static_cast<uint64_t>(epoch));
    for (size_t i = n; i > 1; --i) std::swap(idx[i - 1], idx[rng() % i]);
  }
  if (o.world_size > 1) {
    const size_t per = (n + o.world_size - 1) / o.world_size;
    std::vector<int64_t> shard;
    for (size_t k = 0; k < per; ++k) shard.push_back(idx[(k * o.world_size + o.rank) % n]);
    idx = std::move(shard);
  }
  if (o.drop_last) idx.resize(idx.size() / o.batch_size * o.batch_size);
  return idx;
}

Loader::Loader(DatasetPtr dataset, Transform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), o_(options) {
  if (o_.batch_size <= 0) throw std::invalid_argument("--batch-size must be positive");
  if (o_.workers < 1) o_.workers = 1;
  if (o_.prefetch < o_.workers) o_.prefetch = o_.workers;
  if (dataset_->size() == 0) throw std::runtime_error(dataset_->describe() + ": the dataset is empty");
  if (o_.drop_last && epoch_indices(dataset_->size(), 0, o_).empty())
    throw std::invalid_argument("--batch-size " + std::to_string(o_.batch_size) + " is larger than the dataset (" +
                                std::to_string(dataset_->size()) + " samples) with drop_last");
}

Loader::~Loader() { stop(); }

int64_t Loader::num_samples() const { return static_cast<int64_t>(epoch_indices(dataset_->size(), 0, o_).size()); }

int64_t Loader::num_batches() const { return (num_samples() + o_.batch_size - 1) / o_.batch_size; }

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  space_.notify_all();
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop();
  indices_ = epoch_indices(dataset_->size(), epoch, o_);
  epoch_ = epoch;
  end_ = (static_cast<int64_t>(indices_.size()) + o_.batch_size - 1) / o_.batch_size;
  next_ = std::min(first_batch, end_);
  done_.clear();
  error_ = nullptr;
  stopping_ = false;
  skipped_ = 0;
  skipped_messages_.clear();
  // The first batch is fixed here, not read by the thread when it starts: by then the consumer may
  // already have taken other workers' batches and moved next_ on.
  const int64_t first = next_;
  for (int w = 0; w < o_.workers; ++w) threads_.emplace_back([this, w, first] { work(w, first); });
}

Batch Loader::make_batch(int64_t b) {
  const int64_t begin = b * o_.batch_size;
  const int64_t end = std::min<int64_t>(begin + o_.batch_size, static_cast<int64_t>(indices_.size()));
  std::vector<at::Tensor> images;
  std::vector<int64_t> labels;
  for (int64_t k = begin; k < end; ++k) {
    const int64_t i = indices_[k];
    Sample s;
    try {
      s = dataset_->get(static_cast<size_t>(i));
    } catch (const std::exception& e) {
      if (!o_.skip_bad_images) throw;
      std::lock_guard<std::mutex> lock(mu_);
      ++skipped_;
      if (skipped_messages_.size() < 20) skipped_messages_.push_back(e.what());
      continue;
    }
    Rng rng(sample_seed(o_.seed, epoch_, i));
    images.push_back(transform_(s.image, rng));
    labels.push_back(s.label);
  }
  Batch out;
  out.index = b;
  if (!images.empty()) {
    out.images = at::stack(images);
    out.labels = at::tensor(labels, at::kLong);
  }
  return out;
}

void Loader::work(int worker, int64_t first) {
  for (int64_t b = first + worker; b < end_; b += o_.workers) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      space_.wait(lock, [&] { return stopping_ || b - next_ < o_.prefetch; });
      if (stopping_) return;
    }
    try {
      Batch batch = make_batch(b);
      std::lock_guard<std::mutex> lock(mu_);
      done_.emplace(b, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    ready_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  while (true) {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_ >= end_) return std::nullopt;
    ready_.wait(lock, [&] { return error_ || done_.count(next_); });
    if (error_) {
      auto e = error_;
      lock.unlock();
      stop();
      std::rethrow_exception(e);
    }
    Batch b = std::move(done_.at(next_));
    done_.erase(next_);
    ++next_;
    lock.unlock();
    space_.notify_all();
    if (b.images.defined()) return b;  // a batch made only of skipped images is dropped
  }
}

int64_t Loader::skipped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_;
}

std::vector<std::string> Loader::skipped_messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_messages_;
}

}  // namespace attnzoo::datasets
