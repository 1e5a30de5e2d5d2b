#include <attnzoo/checkpoint/state_dict.h>

#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/safetensors.h>

#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/file_util.h>

#include <torch/nn/module.h>

#include <set>
#include <sstream>
#include <stdexcept>

namespace attnzoo::checkpoint {
namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, TensorDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.insert(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.insert(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape_str(const at::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string join(const std::vector<std::string>& xs, size_t limit) {
  std::string s;
  for (size_t i = 0; i < xs.size() && i < limit; ++i) s += (i ? ", " : "") + xs[i];
  if (xs.size() > limit) s += ", ... (" + std::to_string(xs.size() - limit) + " more)";
  return s;
}

// Dict entries that are tensors, with string keys; nullopt-like empty when the value is no tensor dict.
// why_not (optional): what disqualifies v, e.g. "entry 'x.weight' is a None".
bool tensor_dict_of(const PyValue& v, TensorDict* out, std::string* why_not = nullptr) {
  if (!v.is(PyValue::Kind::Dict) || v.dict.empty()) return false;
  TensorDict d;
  for (const auto& [k, x] : v.dict) {
    if (!k->is(PyValue::Kind::String) || !x->is(PyValue::Kind::Tensor)) {
      if (why_not) *why_not = "entry " + k->repr(0) + " is a " + x->type_name() + ": " + x->repr(0);
      return false;
    }
    d.insert(k->s, x->tensor);
  }
  *out = std::move(d);
  return true;
}

// Classes a training script commonly pickles next to its weights (arguments, configs, paths, numpy scalars):
// known, inert, not worth a warning.
bool commonly_saved(const std::string& cls) {
  for (const char* prefix : {"torch.", "numpy.", "pathlib.",
                             "argparse.Namespace", "yacs.config.CfgNode", "omegaconf."})
    if (cls.rfind(prefix, 0) == 0) return true;
  return false;
}

// One warning line for the classes the entries beside the weights hold that attnzoo does not know: they were
// kept as inert records (nothing is ever executed) but a user should know the file carries them.
void warn_unknown_classes(const PyValue& root, const PyValue* chosen, const std::string& path) {
  if (root.kind != PyValue::Kind::Dict || &root == chosen) return;
  std::set<std::string> classes;
  std::vector<std::string> entries;
  for (const auto& [k, v] : root.dict) {
    if (v.get() == chosen) continue;
    bool unknown = false;
    for (const auto& cls : object_classes(*v))
      if (!commonly_saved(cls)) {
        classes.insert(cls);
        unknown = true;
      }
    if (unknown) entries.push_back(k->repr(0));
  }
  if (classes.empty()) return;
  warn(path + ": ignored entries " + join(entries, 8) + " hold classes attnzoo does not know: " +
       join({classes.begin(), classes.end()}, 8) + " (kept as inert records, nothing executed)");
}

}  // namespace

const std::vector<std::string>& checkpoint_keys(bool use_ema) {
  static const std::vector<std::string> plain = {"state_dict", "model", "state_dict_ema", "model_ema"};
  static const std::vector<std::string> ema = {"state_dict_ema", "model_ema", "state_dict", "model"};
  return use_ema ? ema : plain;
}

TensorDict state_dict(const torch::nn::Module& module) {
  TensorDict out;
  collect(module, "", out);
  return out;
}

std::string LoadReport::describe(size_t limit) const {
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back(std::to_string(missing.size()) + " missing key(s): " + join(missing, limit));
  if (!unexpected.empty())
    parts.push_back(std::to_string(unexpected.size()) + " unexpected key(s): " + join(unexpected, limit));
  if (!mismatched.empty())
    parts.push_back(std::to_string(mismatched.size()) + " mis-shaped key(s): " + join(mismatched, limit));
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
  return s;
}

// A floating parameter loads from any floating precision (fp16/bf16 releases), never from an integer, bool or
// complex tensor: that cast would hide a wrong file. Buffers convert freely (LibTorch's Module::to(dtype)
// turns integer buffers such as num_batches_tracked into floats, so their dtype says nothing).
LoadReport compare_state_dict(const torch::nn::Module& module, const TensorDict& weights) {
  LoadReport r;
  const TensorDict own = state_dict(module);
  const auto parameters = module.named_parameters(/*recurse=*/true);
  for (const auto& item : own) {
    const at::Tensor* src = weights.find(item.key());
    if (!src) {
      r.missing.push_back(item.key());
    } else if (src->sizes() != item.value().sizes()) {
      r.mismatched.push_back(item.key() + ": checkpoint " + shape_str(*src) + " vs model " + shape_str(item.value()));
    } else if (parameters.contains(item.key()) && at::isFloatingType(item.value().scalar_type()) &&
               !at::isFloatingType(src->scalar_type())) {
      r.mismatched.push_back(item.key() + ": checkpoint " + std::string(c10::toString(src->scalar_type())) + " vs model " +
                             c10::toString(item.value().scalar_type()));
    }
  }
  for (const auto& item : weights)
    if (!own.contains(item.key())) r.unexpected.push_back(item.key());
  return r;
}

LoadReport load_state_dict(torch::nn::Module& module, const TensorDict& weights, bool strict, const std::string& what) {
  LoadReport r = compare_state_dict(module, weights);
  if (!r.mismatched.empty() || (strict && !r.ok()))
    throw std::runtime_error(what + ": weights do not fit the model: " + r.describe());
  torch::NoGradGuard no_grad;
  for (auto& item : state_dict(module)) {
    const at::Tensor* src = weights.find(item.key());
    if (src) item.value().copy_(*src);
  }
  return r;
}

TensorDict clean_state_dict(const TensorDict& weights) {
  TensorDict out;
  for (const auto& item : weights) {
    std::string k = item.key();
    for (bool changed = true; changed;) {
      changed = false;
      for (const char* prefix : {"module.", "_orig_mod."}) {
        const std::string p(prefix);
        if (k.compare(0, p.size(), p) == 0) {
          k = k.substr(p.size());
          changed = true;
        }
      }
    }
    out.insert(k, item.value());
  }
  return out;
}

LoadedWeights read_weights(const std::string& path, const std::string& key, bool use_ema) {
  LoadedWeights out;
  if (looks_like_safetensors(path)) {
    SafetensorsFile f = read_safetensors(path);
    // Our own training checkpoints keep several state dicts in one file under "<key>." prefixes and say so.
    std::string chosen = key;
    if (chosen.empty() && f.metadata.count("attnzoo.envelope")) {
      for (const auto& k : checkpoint_keys(use_ema)) {
        for (const auto& item : f.tensors)
          if (item.key().rfind(k + ".", 0) == 0) {
            chosen = k;
            break;
          }
        if (!chosen.empty()) break;
      }
    }
    if (chosen.empty()) {
      out.tensors = clean_state_dict(f.tensors);
      out.source = "top level (safetensors)";
    } else {
      TensorDict sub;
      for (const auto& item : f.tensors)
        if (item.key().rfind(chosen + ".", 0) == 0) sub.insert(item.key().substr(chosen.size() + 1), item.value());
      if (sub.is_empty()) throw std::runtime_error(path + ": no tensors under checkpoint key '" + chosen + "'");
      out.tensors = clean_state_dict(sub);
      out.source = chosen + " (safetensors)";
    }
    return out;
  }
  PyRef root = load_pth(path);
  const PyValue* chosen = nullptr;
  std::string chosen_key;
  if (!key.empty()) {
    chosen = root->find(key);
    if (!chosen) throw std::runtime_error(path + ": checkpoint has no entry '" + key + "' (top level is " + root->repr(1) + ")");
    chosen_key = key;
  } else {
    for (const auto& k : checkpoint_keys(use_ema)) {
      const PyValue* v = root->find(k);
      TensorDict probe;
      if (v && tensor_dict_of(*v, &probe)) {
        chosen = v;
        chosen_key = k;
        break;
      }
    }
    if (!chosen) {
      chosen = root.get();
      chosen_key = "top level";
    }
  }
  TensorDict tensors;
  std::string why_not;
  if (!tensor_dict_of(*chosen, &tensors, &why_not))
    throw std::runtime_error(path + ": '" + chosen_key + "' is not a state dict (a dict of tensors" +
                             (why_not.empty() ? "" : "; its " + why_not) + "); it is a " + chosen->type_name() + ": " +
                             chosen->repr(1) + "; choose another with --checkpoint-key");
  warn_unknown_classes(*root, chosen, path);
  out.tensors = clean_state_dict(tensors);
  out.source = chosen_key + " (torch.save)";
  return out;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A tensor that owns exactly its bytes: torch.save stores whole storages, so a view would carry its base.
at::Tensor standalone(const at::Tensor& t) {
  at::Tensor c = t.detach().cpu().contiguous();
  return c.storage_offset() == 0 && c.storage().nbytes() == c.nbytes() ? c : c.clone();
}

}  // namespace

void write_weights(const std::string& path, const TensorDict& tensors) {
  TensorDict host;
  for (const auto& item : tensors) host.insert(item.key(), standalone(item.value()));
  if (ends_with(path, ".safetensors")) return write_safetensors(path, host, {{"format", "pt"}});
  if (!ends_with(path, ".pth") && !ends_with(path, ".pt") && !ends_with(path, ".bin"))
    throw std::runtime_error(path + ": unknown weights format (use .safetensors, .pth, .pt or .bin)");
  write_file_atomic(path, serialize_pth(host));
}

}  // namespace attnzoo::checkpoint
