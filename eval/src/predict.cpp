#include <attnzoo/eval/predict.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/datasets/transforms.h>
#include <attnzoo/eval/imagenet_classes.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace attnzoo::eval {

std::vector<std::string> prediction_class_names(const EvalModel& model, int64_t num_outputs) {
  if (!model.classes.empty()) return model.classes;
  if (num_outputs == static_cast<int64_t>(imagenet_class_names().size())) return imagenet_class_names();
  return {};
}

namespace {

std::vector<Prediction> top_k(const at::Tensor& logits, const std::vector<std::string>& files, size_t first, int64_t topk,
                              const std::vector<std::string>& names) {
  const at::Tensor prob = torch::softmax(logits.to(at::kCPU, at::kDouble), 1);
  auto [values, indices] = prob.topk(std::min<int64_t>(topk, prob.size(1)), 1);
  std::vector<Prediction> out;
  for (int64_t i = 0; i < prob.size(0); ++i) {
    Prediction p;
    p.file = files[first + static_cast<size_t>(i)];
    for (int64_t k = 0; k < values.size(1); ++k) {
      const int64_t c = indices[i][k].item<int64_t>();
      p.index.push_back(c);
      p.label.push_back(c < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(c)] : std::to_string(c));
      p.prob.push_back(values[i][k].item<double>());
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::vector<Prediction> predict_files(EvalModel& model, const std::vector<std::string>& files, int64_t topk,
                                      int64_t batch_size, const std::string& device,
                                      const std::function<void(size_t done)>& progress) {
  if (topk < 1 || batch_size < 1) throw std::invalid_argument("predict: topk and batch size must be positive");
  datasets::Transform transform(model.transform, /*train=*/false);
  torch::NoGradGuard no_grad;
  std::vector<Prediction> out;
  std::vector<std::string> names;
  for (size_t first = 0; first < files.size(); first += static_cast<size_t>(batch_size)) {
    const size_t last = std::min(files.size(), first + static_cast<size_t>(batch_size));
    std::vector<at::Tensor> images;
    for (size_t i = first; i < last; ++i) {
      datasets::Rng rng(0);  // the eval transform draws nothing
      images.push_back(transform(datasets::read_image(files[i]), rng));
    }
    const at::Tensor logits = model.model->forward(torch::stack(images).to(at::Device(device)));
    if (names.empty()) names = prediction_class_names(model, logits.size(1));
    for (auto& p : top_k(logits, files, first, topk, names)) out.push_back(std::move(p));
    if (progress) progress(last);
  }
  return out;
}

nlohmann::json predictions_json(const std::vector<Prediction>& predictions) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& p : predictions) {
    nlohmann::json top = nlohmann::json::array();
    for (size_t k = 0; k < p.index.size(); ++k) top.push_back({{"class", p.index[k]}, {"name", p.label[k]}, {"prob", p.prob[k]}});
    all.push_back({{"image", p.file}, {"top", top}});
  }
  return all;
}

void write_predictions(const std::string& path, const std::vector<Prediction>& predictions) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json") {
    write_file_atomic(path, predictions_json(predictions).dump(1) + "\n");
    return;
  }
  if (ext != ".csv") throw std::invalid_argument("--output " + path + ": expected a .csv or .json file");
  std::ostringstream csv;
  const size_t k = predictions.empty() ? 0 : predictions.front().index.size();
  csv << "filename";
  for (size_t i = 0; i < k; ++i) csv << ",index_" << i << ",label_" << i << ",prob_" << i;
  csv << "\n";
  csv.precision(6);
  for (const auto& p : predictions) {
    csv << csv_field(p.file);
    for (size_t i = 0; i < p.index.size(); ++i) csv << "," << p.index[i] << "," << csv_field(p.label[i]) << "," << p.prob[i];
    csv << "\n";
  }
  write_file_atomic(path, csv.str());
}

}  // namespace attnzoo::eval
