#pragma once
// A safe reader for PyTorch `torch.save` files (zip container, pickle protocols 0-5).
//
// Unlike Python's pickle it never imports or executes anything: the pickle program is interpreted by
// a small virtual machine that knows the handful of callables torch.save emits (tensor and parameter
// rebuilders, OrderedDict, torch.Size, numpy scalars/arrays, ...). Every other class instance
// (argparse.Namespace, optimizer objects, pathlib paths, ...) comes back as an opaque PyValue::Object
// record holding its class name, constructor arguments and state. Every read is bounds-checked, so a
// truncated or corrupted file ends in a std::runtime_error, never a crash.
#include <attnzoo/checkpoint/tensor_dict.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::checkpoint {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Set, Tensor, Global, Object };

  PyValue() = default;
  PyValue(const PyValue&) = default;
  PyValue(PyValue&&) = default;
  PyValue& operator=(const PyValue&) = default;
  PyValue& operator=(PyValue&&) = default;
  /// Releases nested values iteratively: a hostile pickle may chain 100,000 lists, which a recursive
  /// destructor would follow until the stack overflows.
  ~PyValue();

  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                            // String, Bytes, Global ("module.name"), Object (class name)
  std::vector<PyRef> items;                 // List, Tuple, Set; Object: constructor args
  std::vector<std::pair<PyRef, PyRef>> dict;  // Dict (insertion order kept)
  PyRef state;                              // Object: the BUILD state (usually a Dict of attributes)
  at::Tensor tensor;                        // Tensor
  int height = 0;                           // levels of containers below this value (the unpickler bounds it)
  bool nested = false;                      // placed inside another value; the unpickler then refuses to change it

  bool is(Kind k) const { return kind == k; }
  /// Dict entry (or Object attribute) under a string key; nullptr when absent.
  const PyValue* find(const std::string& key) const;
  /// Human-readable, Python-like rendering (depth- and length-limited).
  std::string repr(int max_depth = 3) const;
  /// Kind name for error messages ("dict", "tensor", "argparse.Namespace", ...).
  std::string type_name() const;
};

/// The bytes of a torch.save file holding `tensors` as an OrderedDict, exactly as Python's torch.save writes
/// a state dict (so torch.load(weights_only=True) and this reader accept it). Tensors must be contiguous CPU
/// tensors that own their storage.
std::string serialize_pth(const TensorDict& tensors);

/// Loads a torch.save file. Throws std::runtime_error naming the file and what is wrong.
PyRef load_pth(const std::string& path);

/// Class names of the opaque records (PyValue::Kind::Object) anywhere inside `v`, sorted and unique.
/// Iterative and cycle-safe: memo references can make a pickled value a graph.
std::vector<std::string> object_classes(const PyValue& v);

/// Runs a pickle program. `load_storage(key, dtype, numel)` resolves persistent storage ids
/// (torch's ('storage', type, key, location, numel) tuples); pass nullptr for plain pickles.
using StorageLoader = std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;
PyRef unpickle(const std::string& bytes, const StorageLoader& load_storage, const std::string& what);

}  // namespace attnzoo::checkpoint
