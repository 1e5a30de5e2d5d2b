#include <attnzoo/checkpoint/run_checkpoint.h>

#include <attnzoo/checkpoint/safetensors.h>

#include <attnzoo/core/input_limits.h>

#include <stdexcept>

namespace attnzoo::checkpoint {
namespace {

void add_prefixed(TensorDict& out, const std::string& prefix, const TensorDict& in) {
  for (const auto& item : in) out.insert(prefix + "." + item.key(), item.value().detach().to(at::kCPU));
}

TensorDict take_prefixed(const TensorDict& in, const std::string& prefix) {
  TensorDict out;
  for (const auto& item : in)
    if (item.key().rfind(prefix + ".", 0) == 0) out.insert(item.key().substr(prefix.size() + 1), item.value());
  return out;
}

nlohmann::json parse_meta(const std::string& text, const std::string& path, const std::string& kind) {
  try {
    const auto meta = parse_json(text, kind + " metadata");
    if (!meta.is_object()) throw std::runtime_error("not an object");
    return meta;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed " + kind + " metadata (" + e.what() + ")");
  }
}

}  // namespace

void RunCheckpoint::save(const std::string& path) const {
  TensorDict all;
  add_prefixed(all, "state_dict", model);
  if (ema.size() > 0) add_prefixed(all, "state_dict_ema", ema);
  add_prefixed(all, "optimizer", optimizer);
  if (rng.defined()) all.insert("rng.torch_cpu", rng);
  write_safetensors(path, all, {{"attnzoo.envelope", "1"}, {kind, meta.dump()}, {"format", "pt"}});
}

RunCheckpoint RunCheckpoint::load(const std::string& path, const std::string& kind) {
  SafetensorsFile f = read_safetensors(path);
  const auto it = f.metadata.find(kind);
  if (it == f.metadata.end())
    throw std::runtime_error(path + ": not an attnzoo training checkpoint of this kind (no '" + kind + "' metadata)");
  RunCheckpoint c;
  c.kind = kind;
  c.meta = parse_meta(it->second, path, kind);
  c.model = take_prefixed(f.tensors, "state_dict");
  if (c.model.size() == 0) c.model = f.tensors;  // a plain weights file with a run description
  c.ema = take_prefixed(f.tensors, "state_dict_ema");
  c.optimizer = take_prefixed(f.tensors, "optimizer");
  if (f.tensors.contains("rng.torch_cpu")) c.rng = f.tensors["rng.torch_cpu"];
  return c;
}

nlohmann::json RunCheckpoint::peek(const std::string& path, const std::string& kind) {
  if (path.empty() || !looks_like_safetensors(path)) return nullptr;
  const auto metadata = read_safetensors_metadata(path);  // the header only: checkpoints can be large
  const auto it = metadata.find(kind);
  return it == metadata.end() ? nlohmann::json() : parse_meta(it->second, path, kind);
}

}  // namespace attnzoo::checkpoint
