#include <attnzoo/eval/load.h>

#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <stdexcept>

namespace attnzoo::eval {
namespace {

// The constructor arguments: the checkpoint's record when the model is not named, else the overrides;
// then the class / channel counts the request fixes.
nlohmann::json model_args(const EvalModelRequest& r, const nlohmann::json& recorded) {
  nlohmann::json args = r.model.empty() && recorded.contains("model_args") ? recorded["model_args"] : r.model_args;
  if (args.is_null()) args = nlohmann::json::object();
  if (r.num_classes > 0)
    args["num_classes"] = r.num_classes;
  else if (!args.contains("num_classes") && r.data_classes > 0 && r.checkpoint.empty())
    args["num_classes"] = r.data_classes;
  if (r.in_chans > 0) args["in_chans"] = r.in_chans;
  return args;
}

datasets::TransformOptions eval_transform(const EvalModelRequest& r, const nlohmann::json& recorded,
                                          const models::PretrainedCfg& pc, int64_t in_chans) {
  datasets::TransformOptions t;
  t.img_size = r.img_size > 0 ? r.img_size : recorded.value("img_size", pc.input_size[1]);
  t.in_chans = in_chans;
  t.mean = r.mean ? *r.mean : recorded.value("mean", pc.mean);
  t.std = r.std ? *r.std : recorded.value("std", pc.std);
  t.crop_pct = r.crop_pct > 0 ? r.crop_pct : recorded.value("crop_pct", pc.crop_pct);
  t.interpolation = !r.interpolation.empty() ? r.interpolation : recorded.value("interpolation", pc.interpolation);
  return t;
}

}  // namespace

EvalModel load_eval_model(const EvalModelRequest& r) {
  const nlohmann::json meta = checkpoint::RunCheckpoint::peek(r.checkpoint, checkpoint::kImageRun);
  const nlohmann::json recorded = meta.is_object() ? meta.value("eval_transform", nlohmann::json::object())
                                                   : nlohmann::json::object();
  EvalModel m;
  m.name = !r.model.empty() ? r.model : recorded.value("model", std::string());
  if (m.name.empty()) throw std::invalid_argument("--model is required (the checkpoint does not say which model it holds)");
  const nlohmann::json args = model_args(r, recorded);
  try {
    m.model = models::create_model(m.name, args);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("--model " + m.name + ": " + e.what());
  }
  if (!r.checkpoint.empty()) {
    models::LoadOptions lo;
    lo.checkpoint_key = r.checkpoint_key;
    lo.use_ema = r.use_ema;
    models::load_weights(*m.model, r.checkpoint, lo);
  }
  const int64_t in_chans = models::registry().resolve_args(m.name, args).value("in_chans", int64_t{3});
  m.transform = eval_transform(r, recorded, m.model->pretrained_cfg(), in_chans);
  if (meta.is_object() && meta.contains("classes")) m.classes = meta["classes"].get<std::vector<std::string>>();
  m.model->to(at::Device(r.device));
  m.model->eval();
  return m;
}

}  // namespace attnzoo::eval
