#pragma once
// Top-k predictions for image files (timm's inference.py): batched through the model's eval transform, class
// names from the checkpoint's record, else ImageNet's for a 1000-class model, else the class index; written as
// CSV or JSON.
#include <attnzoo/eval/load.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnzoo::eval {

struct Prediction {
  std::string file;
  std::vector<int64_t> index;     // class indices, most probable first
  std::vector<std::string> label; // their names
  std::vector<double> prob;       // their softmax probabilities
};

/// The names predictions use for `num_outputs` classes: the recorded ones, ImageNet's for 1000 outputs, or none
/// (labels are then the class indices).
std::vector<std::string> prediction_class_names(const EvalModel& model, int64_t num_outputs);

/// Runs `files` through `model` in batches of `batch_size`; `progress(done)` after each batch. Throws naming the
/// file for an unreadable image.
std::vector<Prediction> predict_files(EvalModel& model, const std::vector<std::string>& files, int64_t topk,
                                      int64_t batch_size, const std::string& device,
                                      const std::function<void(size_t done)>& progress = {});

/// [{"image": file, "top": [{"class", "name", "prob"}, ...]}, ...]
nlohmann::json predictions_json(const std::vector<Prediction>& predictions);

/// CSV (filename, then index_i, label_i, prob_i for each of the top k) or JSON, chosen by the extension of
/// `path` (.csv / .json; std::invalid_argument otherwise); written atomically.
void write_predictions(const std::string& path, const std::vector<Prediction>& predictions);

}  // namespace attnzoo::eval
