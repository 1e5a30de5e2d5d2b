#include <attnzoo/checkpoint/pickle.h>

#include "zip_limits.h"

#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/core/input_limits.h>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace attnzoo::checkpoint {
namespace {

using Kind = PyValue::Kind;

PyRef make(Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}
PyRef make_int(int64_t i) {
  auto v = make(Kind::Int);
  v->i = i;
  return v;
}
PyRef make_str(Kind k, std::string s) {
  auto v = make(k);
  v->s = std::move(s);
  return v;
}

// torch.<X>Storage class names -> element type.
bool storage_dtype(const std::string& name, at::ScalarType* out) {
  static const std::pair<const char*, at::ScalarType> table[] = {
      {"DoubleStorage", at::kDouble}, {"FloatStorage", at::kFloat},   {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},   {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool},     {"ComplexFloatStorage", at::kComplexFloat},
      {"ComplexDoubleStorage", at::kComplexDouble}, {"UntypedStorage", at::kByte},
  };
  const auto dot = name.rfind('.');
  const std::string base = dot == std::string::npos ? name : name.substr(dot + 1);
  for (const auto& [n, t] : table)
    if (base == n) {
      *out = t;
      return true;
    }
  return false;
}

// numpy dtype strings ('<f8', 'f4', 'i8', '?', ...) -> element type.
bool numpy_dtype(std::string code, at::ScalarType* out) {
  if (!code.empty() && (code[0] == '<' || code[0] == '|' || code[0] == '=')) code = code.substr(1);
  static const std::pair<const char*, at::ScalarType> table[] = {
      {"f8", at::kDouble}, {"f4", at::kFloat}, {"f2", at::kHalf}, {"i8", at::kLong}, {"i4", at::kInt},
      {"i2", at::kShort},  {"i1", at::kChar},  {"u1", at::kByte}, {"b1", at::kBool}, {"?", at::kBool},
  };
  for (const auto& [n, t] : table)
    if (code == n) {
      *out = t;
      return true;
    }
  return false;
}

// UTF-8 (how we hold pickle unicode) -> latin-1 bytes, for _codecs.encode(s, 'latin1').
std::string utf8_to_latin1(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c & 0xe0) == 0xc0 && i + 1 < s.size()) {
      out.push_back(static_cast<char>(((c & 0x1f) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3f)));
      ++i;
    } else {
      throw std::runtime_error("latin-1 encode of a non-latin-1 string");
    }
  }
  return out;
}

class Machine {
 public:
  Machine(const std::string& bytes, const StorageLoader& loader, const std::string& what)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), loader_(loader), what_(what) {}

  PyRef run();

 private:
  // Opcode groups: each returns false for opcodes outside its group.
  bool push_literal(uint8_t op);
  bool build_container(uint8_t op);
  bool use_memo(uint8_t op);
  bool make_object(uint8_t op);
  bool stack_op(uint8_t op);
  [[noreturn]] void fail(const std::string& msg) const {
    throw std::runtime_error(what_ + ": cannot unpickle: " + msg);
  }
  void need(size_t n) const {
    if (static_cast<size_t>(end_ - p_) < n) fail("truncated pickle data");
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(*p_++);
  }
  uint64_t uint_le(int n) {
    need(static_cast<size_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
    p_ += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("truncated pickle data (string of " + std::to_string(n) + " bytes)");
    std::string s(p_, p_ + n);
    p_ += n;
    return s;
  }
  std::string line() {
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    if (!nl) fail("truncated pickle data (unterminated line)");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }
  PyRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
    PyRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PyRef& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) fail("MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("corrupt MARK");
    std::vector<PyRef> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  PyRef memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("bad memo reference " + std::to_string(key) + " (not a pickle file?)");
    return it->second;
  }
  PyRef int_from_le(const std::string& b) {
    if (b.empty()) return make_int(0);
    if (b.size() > 8) {  // beyond int64: keep the value approximately, as a float
      double v = 0;
      for (size_t i = b.size(); i-- > 0;) v = v * 256 + static_cast<uint8_t>(b[i]);
      if (static_cast<uint8_t>(b.back()) & 0x80) v -= std::ldexp(1.0, static_cast<int>(8 * b.size()));
      auto r = make(Kind::Float);
      r->f = v;
      return r;
    }
    uint64_t v = 0;
    for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
    if (b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) v |= ~0ull << (8 * b.size());
    return make_int(static_cast<int64_t>(v));
  }
  // Containers record how deep they nest so that the machine refuses a file before it builds a value too
  // deep for anything to walk. Python's pickler completes a container before placing it inside another, so
  // a value that is changed after being placed (possible only through the memo) can only be a recursive
  // structure or a chain built top-down to dodge the depth count: both are refused, which keeps every
  // value a finite tree-shaped DAG (no cycles to leak, heights exact).
  void grow(PyValue& parent, PyValue& child) {
    // A value that is not nested anywhere can be inside nothing, so the one cycle left to refuse is itself.
    if (&parent == &child) fail("a " + parent.type_name() + " is placed inside itself (a recursive structure?)");
    child.nested = true;
    if (child.height + 1 > parent.height) parent.height = child.height + 1;
    if (parent.height > kMaxNestingDepth)
      fail("values nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  }
  void check_mutable(const PyValue& target) const {
    if (target.nested) fail("a " + target.type_name() + " is changed after being placed inside another value (a recursive structure?)");
  }
  PyRef measured(PyRef v) {
    for (const auto& x : v->items) grow(*v, *x);
    for (const auto& [k, x] : v->dict) {
      grow(*v, *k);
      grow(*v, *x);
    }
    if (v->state) grow(*v, *v->state);
    return v;
  }
  void set_item(const PyRef& target, PyRef key, PyRef value) {
    check_mutable(*target);
    grow(*target, *key);
    grow(*target, *value);
    if (target->kind == Kind::Dict) {
      target->dict.emplace_back(std::move(key), std::move(value));
    } else if (target->kind == Kind::Object) {  // e.g. a dict subclass we keep as a record
      if (!target->state) target->state = make(Kind::Dict);
      if (target->state->kind == Kind::Dict) target->state->dict.emplace_back(std::move(key), std::move(value));
    } else {
      fail("SETITEM on a " + target->type_name());
    }
  }
  void append(const PyRef& target, PyRef value) {
    check_mutable(*target);
    grow(*target, *value);
    if (target->kind == Kind::List || target->kind == Kind::Set) {
      target->items.push_back(std::move(value));
    } else if (target->kind == Kind::Object) {
      target->items.push_back(std::move(value));
    } else {
      fail("APPEND on a " + target->type_name());
    }
  }
  PyRef call(const PyRef& callable, const PyRef& args);
  void build(const PyRef& obj, const PyRef& state);
  PyRef persistent_load(const PyRef& pid);
  PyRef rebuild_tensor(const std::vector<PyRef>& a, bool has_requires_grad);

  const char* p_;
  const char* end_;
  const StorageLoader& loader_;
  std::string what_;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::unordered_map<std::string, at::Tensor> storages_;
};

PyRef Machine::persistent_load(const PyRef& pid) {
  if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage")
    fail("unsupported persistent id " + pid->repr());
  const auto& type = pid->items[1];
  const auto& key = pid->items[2];
  const auto& numel = pid->items[4];
  at::ScalarType dtype;
  if (type->kind != Kind::Global || !storage_dtype(type->s, &dtype)) fail("unknown storage type " + type->repr());
  if (key->kind != Kind::String || numel->kind != Kind::Int || numel->i < 0) fail("malformed storage id " + pid->repr());
  auto it = storages_.find(key->s);
  if (it == storages_.end()) {
    if (!loader_) fail("pickle refers to tensor storage but no archive is attached");
    it = storages_.emplace(key->s, loader_(key->s, dtype, numel->i)).first;
  }
  auto v = make(Kind::Tensor);
  v->tensor = it->second;
  return v;
}

PyRef Machine::rebuild_tensor(const std::vector<PyRef>& a, bool has_requires_grad) {
  if (a.size() < 4 || a[0]->kind != Kind::Tensor || a[1]->kind != Kind::Int || a[2]->kind != Kind::Tuple ||
      a[3]->kind != Kind::Tuple)
    fail("malformed _rebuild_tensor arguments");
  const at::Tensor& storage = a[0]->tensor;
  std::vector<int64_t> size, stride;
  for (const auto& d : a[2]->items) {
    if (d->kind != Kind::Int || d->i < 0) fail("malformed tensor size");
    size.push_back(d->i);
  }
  for (const auto& d : a[3]->items) {
    if (d->kind != Kind::Int || d->i < 0) fail("malformed tensor stride");
    stride.push_back(d->i);
  }
  if (size.size() != stride.size()) fail("tensor size and stride ranks differ");
  const int64_t offset = a[1]->i;
  int64_t extent = 0;  // index of the last element + 1
  bool empty = false;
  for (size_t k = 0; k < size.size(); ++k) {
    if (size[k] == 0) empty = true;
    if (size[k] > 0 && stride[k] > 0 && (size[k] - 1) > (int64_t{1} << 50) / stride[k]) fail("absurd tensor stride");
    extent += (size[k] - 1) * stride[k];
  }
  if (!empty && (offset < 0 || offset + extent + 1 > storage.numel()))
    fail("tensor view (offset " + std::to_string(offset) + ", extent " + std::to_string(extent + 1) +
         ") exceeds its storage of " + std::to_string(storage.numel()) + " elements");
  auto v = make(Kind::Tensor);
  v->tensor = empty ? at::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
  if (has_requires_grad && a.size() > 4 && a[4]->kind == Kind::Bool && a[4]->b && v->tensor.is_floating_point())
    v->tensor = v->tensor.detach();  // we load weights, never autograd state
  return v;
}

PyRef Machine::call(const PyRef& callable, const PyRef& args) {
  if (callable->kind != Kind::Global) fail("call of a non-class " + callable->type_name());
  const std::string& name = callable->s;
  const std::vector<PyRef> empty;
  const std::vector<PyRef>& a = args->kind == Kind::Tuple ? args->items : empty;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "collections.defaultdict" ||
      name == "__builtin__.dict") {
    auto d = make(Kind::Dict);
    // OrderedDict([(k, v), ...]) form.
    if (!a.empty() && a[0]->kind == Kind::List && name != "collections.defaultdict")
      for (const auto& kv : a[0]->items)
        if (kv->kind == Kind::Tuple && kv->items.size() == 2) d->dict.emplace_back(kv->items[0], kv->items[1]);
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a, true);
  if (name == "torch._utils._rebuild_tensor") return rebuild_tensor(a, false);
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::Tensor) fail("malformed _rebuild_parameter arguments");
    return a[0];
  }
  if (name == "torch.Size" || name == "builtins.tuple") {
    auto t = make(Kind::Tuple);
    if (!a.empty()) t->items = a[0]->items;
    return t;
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set") {
    auto t = make(Kind::Set);
    if (!a.empty()) t->items = a[0]->items;
    return t;
  }
  if (name == "builtins.list") {
    auto t = make(Kind::List);
    if (!a.empty()) t->items = a[0]->items;
    return t;
  }
  if (name == "torch.device") {
    std::string s;
    for (const auto& x : a) s += (s.empty() ? "" : ":") + (x->kind == Kind::Int ? std::to_string(x->i) : x->s);
    return make_str(Kind::String, s);
  }
  if (name == "_codecs.encode") {
    if (a.empty() || a[0]->kind != Kind::String) fail("malformed _codecs.encode");
    return make_str(Kind::Bytes, utf8_to_latin1(a[0]->s));
  }
  if (name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar") {
    // (dtype, raw bytes): dtype was built by numpy.dtype(code, ...) -> an Object whose args[0] is the code.
    at::ScalarType t;
    if (a.size() < 2 || a[0]->kind != Kind::Object || a[0]->items.empty() || a[1]->kind != Kind::Bytes ||
        !numpy_dtype(a[0]->items[0]->s, &t))
      return [&] { auto o = make_str(Kind::Object, name); o->items = a; return o; }();
    if (a[1]->s.size() != c10::elementSize(t)) fail("numpy scalar with wrong byte count");
    at::Tensor x = at::empty({}, at::TensorOptions().dtype(t));
    std::memcpy(x.data_ptr(), a[1]->s.data(), a[1]->s.size());
    if (t == at::kBool) {
      auto r = make(Kind::Bool);
      r->b = a[1]->s[0] != 0;
      return r;
    }
    if (at::isFloatingType(t)) {
      auto r = make(Kind::Float);
      r->f = x.to(at::kDouble).item<double>();
      return r;
    }
    return make_int(x.to(at::kLong).item<int64_t>());
  }
  if (name == "copyreg._reconstructor" && !a.empty() && a[0]->kind == Kind::Global) {
    auto o = make_str(Kind::Object, a[0]->s);
    o->items.assign(a.begin() + 1, a.end());
    return o;
  }
  // Any other class or function: an opaque record; nothing is ever executed.
  auto o = make_str(Kind::Object, name);
  o->items = a;
  return o;
}

void Machine::build(const PyRef& obj, const PyRef& state) {
  if (obj->kind == Kind::Object) {
    // numpy.ndarray via numpy.core.multiarray._reconstruct: state = (ver, shape, dtype, fortran, raw).
    if ((obj->s == "numpy.core.multiarray._reconstruct" || obj->s == "numpy._core.multiarray._reconstruct") &&
        state->kind == Kind::Tuple && state->items.size() == 5) {
      const auto& shape = state->items[1];
      const auto& dt = state->items[2];
      const auto& fortran = state->items[3];
      const auto& raw = state->items[4];
      at::ScalarType t;
      if (shape->kind == Kind::Tuple && dt->kind == Kind::Object && !dt->items.empty() && raw->kind == Kind::Bytes &&
          numpy_dtype(dt->items[0]->s, &t)) {
        std::vector<int64_t> sizes;
        int64_t n = 1;
        for (const auto& d : shape->items) {
          if (d->kind != Kind::Int || d->i < 0) fail("malformed ndarray shape");
          sizes.push_back(d->i);
          n *= d->i;
        }
        if (static_cast<uint64_t>(n) * c10::elementSize(t) != raw->s.size()) fail("ndarray data size mismatch");
        std::vector<int64_t> rev(sizes.rbegin(), sizes.rend());
        const bool is_f = fortran->kind == Kind::Bool && fortran->b;
        at::Tensor x = at::empty(is_f ? rev : sizes, at::TensorOptions().dtype(t));
        if (!raw->s.empty()) std::memcpy(x.data_ptr(), raw->s.data(), raw->s.size());
        if (is_f) x = x.permute(std::vector<int64_t>([&] {
                    std::vector<int64_t> p;
                    for (int64_t k = static_cast<int64_t>(sizes.size()) - 1; k >= 0; --k) p.push_back(k);
                    return p;
                  }())).contiguous();
        PyValue converted;
        converted.kind = Kind::Tensor;
        converted.tensor = x;
        *obj = converted;
        return;
      }
    }
    obj->state = state;
  }
  // Tensors and containers ignore BUILD state: a tensor's carries autograd metadata only, and a dict's holds
  // instance attributes, not items (Module.state_dict()'s OrderedDict carries `_metadata` that way).
}

// Strings, bytes, numbers, None and booleans (binary and text forms).
bool Machine::push_literal(uint8_t op) {
  switch (op) {
    case 'X': stack_.push_back(make_str(Kind::String, bytes(uint_le(4)))); return true;
    case 0x8c: stack_.push_back(make_str(Kind::String, bytes(u8()))); return true;
    case 0x8d: stack_.push_back(make_str(Kind::String, bytes(uint_le(8)))); return true;
    case 'C': stack_.push_back(make_str(Kind::Bytes, bytes(u8()))); return true;
    case 'B': stack_.push_back(make_str(Kind::Bytes, bytes(uint_le(4)))); return true;
    case 0x8e: stack_.push_back(make_str(Kind::Bytes, bytes(uint_le(8)))); return true;
    case 0x96: stack_.push_back(make_str(Kind::Bytes, bytes(uint_le(8)))); return true;  // BYTEARRAY8
    case 'T': stack_.push_back(make_str(Kind::String, bytes(uint_le(4)))); return true;  // BINSTRING
    case 'U': stack_.push_back(make_str(Kind::String, bytes(u8()))); return true;        // SHORT_BINSTRING
    case 'J': stack_.push_back(make_int(static_cast<int32_t>(uint_le(4)))); return true;
    case 'K': stack_.push_back(make_int(u8())); return true;
    case 'M': stack_.push_back(make_int(static_cast<int64_t>(uint_le(2)))); return true;
    case 0x8a: stack_.push_back(int_from_le(bytes(u8()))); return true;  // LONG1
    case 0x8b: {                                                    // LONG4
      const int32_t n = static_cast<int32_t>(uint_le(4));
      if (n < 0) fail("negative LONG4 length");
      stack_.push_back(int_from_le(bytes(static_cast<uint64_t>(n))));
      return true;
    }
    case 'G': {  // BINFLOAT, big-endian
      need(8);
      uint64_t bits = 0;
      for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(p_[k]);
      p_ += 8;
      auto v = make(Kind::Float);
      std::memcpy(&v->f, &bits, 8);
      stack_.push_back(v);
      return true;
    }
    case 'N': stack_.push_back(make(Kind::None)); return true;
    case 0x88:
    case 0x89: {
      auto v = make(Kind::Bool);
      v->b = op == 0x88;
      stack_.push_back(v);
      return true;
    }
    case 'I': {  // INT (text); "01"/"00" are True/False
      const std::string s = line();
      if (s == "01" || s == "00") {
        auto v = make(Kind::Bool);
        v->b = s == "01";
        stack_.push_back(v);
      } else {
        try { stack_.push_back(make_int(std::stoll(s))); } catch (...) { fail("bad INT literal"); }
      }
      return true;
    }
    case 'L': {
      std::string s = line();
      if (!s.empty() && s.back() == 'L') s.pop_back();
      try { stack_.push_back(make_int(std::stoll(s))); } catch (...) { fail("bad LONG literal"); }
      return true;
    }
    case 'F': {
      auto v = make(Kind::Float);
      try { v->f = std::stod(line()); } catch (...) { fail("bad FLOAT literal"); }
      stack_.push_back(v);
      return true;
    }
    case 'S': {  // STRING: a quoted repr; we strip the quotes and keep escapes as they are
      std::string s = line();
      if (s.size() >= 2 && (s[0] == '\'' || s[0] == '"')) s = s.substr(1, s.size() - 2);
      stack_.push_back(make_str(Kind::String, s));
      return true;
    }
    case 'V': stack_.push_back(make_str(Kind::String, line())); return true;
    default: return false;
  }
}

// Empty containers, marks, and tuples / lists / dicts / sets built from the stack.
bool Machine::build_container(uint8_t op) {
  switch (op) {
    case '}': stack_.push_back(make(Kind::Dict)); return true;
    case ']': stack_.push_back(make(Kind::List)); return true;
    case ')': stack_.push_back(make(Kind::Tuple)); return true;
    case 0x8f: stack_.push_back(make(Kind::Set)); return true;  // EMPTY_SET
    case '(': marks_.push_back(stack_.size()); return true;
    case 't': {
      auto v = make(Kind::Tuple);
      v->items = pop_mark();
      stack_.push_back(measured(v));
      return true;
    }
    case 0x85:
    case 0x86:
    case 0x87: {
      const int n = op - 0x84;
      auto v = make(Kind::Tuple);
      v->items.resize(static_cast<size_t>(n));
      for (int k = n - 1; k >= 0; --k) v->items[static_cast<size_t>(k)] = pop();
      stack_.push_back(measured(v));
      return true;
    }
    case 'l': {
      auto v = make(Kind::List);
      v->items = pop_mark();
      stack_.push_back(measured(v));
      return true;
    }
    case 'a': {
      PyRef v = pop();
      append(top(), std::move(v));
      return true;
    }
    case 'e':
    case 0x90: {  // APPENDS, ADDITEMS
      auto items = pop_mark();
      PyRef target = top();
      for (auto& x : items) append(target, std::move(x));
      return true;
    }
    case 'd': {
      auto items = pop_mark();
      if (items.size() % 2) fail("DICT with an odd number of items");
      auto v = make(Kind::Dict);
      for (size_t k = 0; k < items.size(); k += 2) v->dict.emplace_back(items[k], items[k + 1]);
      stack_.push_back(measured(v));
      return true;
    }
    case 's': {
      PyRef value = pop();
      PyRef key = pop();
      set_item(top(), std::move(key), std::move(value));
      return true;
    }
    case 'u': {
      auto items = pop_mark();
      if (items.size() % 2) fail("SETITEMS with an odd number of items");
      PyRef target = top();
      for (size_t k = 0; k < items.size(); k += 2) set_item(target, items[k], items[k + 1]);
      return true;
    }
    case 0x91: {  // FROZENSET
      auto v = make(Kind::Set);
      v->items = pop_mark();
      stack_.push_back(measured(v));
      return true;
    }
    default: return false;
  }
}

// The memo: PUT / GET in their binary and text forms.
bool Machine::use_memo(uint8_t op) {
  switch (op) {
    case 'q': memo_put(u8()); return true;
    case 'r': memo_put(uint_le(4)); return true;
    case 0x94: memo_put(memo_.size()); return true;  // MEMOIZE
    case 'p': try { memo_put(std::stoull(line())); } catch (const std::logic_error&) { fail("bad PUT"); } return true;
    case 'h': stack_.push_back(memo_get(u8())); return true;
    case 'j': stack_.push_back(memo_get(uint_le(4))); return true;
    case 'g': try { stack_.push_back(memo_get(std::stoull(line()))); } catch (const std::logic_error&) { fail("bad GET"); } return true;
    default: return false;
  }
}

// Globals, calls (REDUCE / NEWOBJ: only the allow-listed callables), BUILD, persistent ids.
bool Machine::make_object(uint8_t op) {
  switch (op) {
    case 'c': {  // GLOBAL module\nname\n
      std::string module = line();
      std::string name = line();
      stack_.push_back(make_str(Kind::Global, module + "." + name));
      return true;
    }
    case 0x93: {  // STACK_GLOBAL
      PyRef name = pop();
      PyRef module = pop();
      if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
      stack_.push_back(make_str(Kind::Global, module->s + "." + name->s));
      return true;
    }
    case 'R': {  // REDUCE
      PyRef args = pop();
      PyRef callable = pop();
      stack_.push_back(measured(call(callable, args)));
      return true;
    }
    case 0x81: {  // NEWOBJ cls.__new__(cls, *args)
      PyRef args = pop();
      PyRef cls = pop();
      stack_.push_back(measured(call(cls, args)));
      return true;
    }
    case 0x92: {  // NEWOBJ_EX (cls, args, kwargs)
      pop();
      PyRef args = pop();
      PyRef cls = pop();
      stack_.push_back(measured(call(cls, args)));
      return true;
    }
    case 'b': {  // BUILD
      PyRef state = pop();
      check_mutable(*top());
      grow(*top(), *state);
      build(top(), state);
      return true;
    }
    case 'Q': {  // BINPERSID
      PyRef pid = pop();
      stack_.push_back(persistent_load(pid));
      return true;
    }
    default: return false;
  }
}

// Framing (PROTO, FRAME) and the stack itself (POP, POP_MARK, DUP).
bool Machine::stack_op(uint8_t op) {
  switch (op) {
    case 0x80: u8(); return true;        // PROTO
    case 0x95: uint_le(8); return true;  // FRAME
    case '0': pop(); return true;
    case '1': pop_mark(); return true;
    case '2': stack_.push_back(top()); return true;
    default: return false;
  }
}

PyRef Machine::run() {
  while (true) {
    const uint8_t op = u8();
    if (op == '.') {  // STOP
      if (stack_.size() != 1) fail("pickle ended with " + std::to_string(stack_.size()) + " values on the stack");
      return stack_.back();
    }
    if (push_literal(op) || build_container(op) || use_memo(op) || make_object(op) || stack_op(op)) continue;
    std::ostringstream os;
    os << "unsupported pickle opcode 0x" << std::hex << static_cast<int>(op) << " (corrupt file?)";
    fail(os.str());
  }
}

}  // namespace

PyValue::~PyValue() {
  std::vector<PyRef> pending;
  const auto take_children = [&pending](PyValue& v) {
    for (auto& x : v.items) pending.push_back(std::move(x));
    for (auto& [k, x] : v.dict) {
      pending.push_back(std::move(k));
      pending.push_back(std::move(x));
    }
    if (v.state) pending.push_back(std::move(v.state));
    v.items.clear();
    v.dict.clear();
  };
  take_children(*this);
  while (!pending.empty()) {
    PyRef v = std::move(pending.back());
    pending.pop_back();
    if (v && v.use_count() == 1) take_children(*v);  // v is released below with nothing left under it
  }
}

std::vector<std::string> object_classes(const PyValue& root) {
  std::set<std::string> names;
  std::unordered_set<const PyValue*> seen{&root};
  std::vector<const PyValue*> todo{&root};
  const auto visit = [&](const PyRef& x) {
    if (x && seen.insert(x.get()).second) todo.push_back(x.get());
  };
  while (!todo.empty()) {
    const PyValue* v = todo.back();
    todo.pop_back();
    if (v->kind == Kind::Object) names.insert(v->s);
    for (const auto& x : v->items) visit(x);
    for (const auto& [k, x] : v->dict) {
      visit(k);
      visit(x);
    }
    visit(v->state);
  }
  return {names.begin(), names.end()};
}

const PyValue* PyValue::find(const std::string& key) const {
  const PyValue* d = this;
  if (kind == Kind::Object) {
    if (!state) return nullptr;
    d = state.get();
  }
  if (d->kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : d->dict)
    if (k->kind == Kind::String && k->s == key) return v.get();
  return nullptr;
}

std::string PyValue::type_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Tensor: return "tensor";
    case Kind::Global: return "global " + s;
    case Kind::Object: return s;
  }
  return "?";
}

std::string PyValue::repr(int max_depth) const {
  std::ostringstream os;
  auto seq = [&](const std::vector<PyRef>& xs, const char* open, const char* close) {
    os << open;
    if (max_depth <= 0) {
      os << "...";
    } else {
      for (size_t k = 0; k < xs.size() && k < 8; ++k) os << (k ? ", " : "") << xs[k]->repr(max_depth - 1);
      if (xs.size() > 8) os << ", ... (" << xs.size() << " items)";
    }
    os << close;
  };
  switch (kind) {
    case Kind::None: os << "None"; break;
    case Kind::Bool: os << (b ? "True" : "False"); break;
    case Kind::Int: os << i; break;
    case Kind::Float: os << f; break;
    case Kind::String: os << "'" << (s.size() > 80 ? s.substr(0, 77) + "..." : s) << "'"; break;
    case Kind::Bytes: os << "b<" << s.size() << " bytes>"; break;
    case Kind::List: seq(items, "[", "]"); break;
    case Kind::Tuple: seq(items, "(", ")"); break;
    case Kind::Set: seq(items, "{", "}"); break;
    case Kind::Global: os << s; break;
    case Kind::Tensor: os << "tensor(" << tensor.sizes() << ", " << tensor.scalar_type() << ")"; break;
    case Kind::Dict:
      os << "{";
      if (max_depth <= 0) {
        os << "...";
      } else {
        for (size_t k = 0; k < dict.size() && k < 8; ++k)
          os << (k ? ", " : "") << dict[k].first->repr(0) << ": " << dict[k].second->repr(max_depth - 1);
        if (dict.size() > 8) os << ", ... (" << dict.size() << " items)";
      }
      os << "}";
      break;
    case Kind::Object:
      os << s;
      if (state && max_depth > 0) os << state->repr(max_depth - 1);
      else seq(items, "(", ")");
      break;
  }
  return os.str();
}

PyRef unpickle(const std::string& bytes, const StorageLoader& load_storage, const std::string& what) {
  Machine m(bytes, load_storage, what);
  return m.run();
}

PyRef load_pth(const std::string& path) {
  std::string head;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open file");
    char buf[4] = {0, 0, 0, 0};
    in.read(buf, 4);
    head.assign(buf, static_cast<size_t>(in.gcount()));
  }
  if (head.size() < 4 || head.compare(0, 4, "PK\x03\x04") != 0) {
    if (!head.empty() && static_cast<uint8_t>(head[0]) == 0x80)
      throw std::runtime_error(path + ": legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it "
                                      "with a current PyTorch (torch.save(torch.load(f), f2))");
    throw std::runtime_error(path + ": not a torch.save zip archive (bad magic)");
  }
  check_zip_entry_sizes(path);
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    auto [pkl, pkl_size] = reader.getRecord("data.pkl");
    std::string program(static_cast<const char*>(pkl.get()), pkl_size);
    StorageLoader loader = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
      const std::string record = "data/" + key;
      if (!reader.hasRecord(record)) throw std::runtime_error(path + ": storage record '" + record + "' is missing");
      auto [data, size] = reader.getRecord(record);
      const uint64_t need = static_cast<uint64_t>(numel) * c10::elementSize(dtype);
      if (size < need)
        throw std::runtime_error(path + ": truncated storage data in '" + record + "' (" + std::to_string(size) +
                                 " bytes, need " + std::to_string(need) + ")");
      at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(dtype));
      if (need) std::memcpy(t.data_ptr(), data.get(), need);
      if (dtype == at::kBool) {
        auto* b = reinterpret_cast<uint8_t*>(t.data_ptr());
        for (int64_t k = 0; k < numel; ++k) b[k] = b[k] != 0;
      }
      return t;
    };
    return unpickle(program, loader, path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": corrupt torch.save archive: " + first_line_of(e.what_without_backtrace()));
  }
}

}  // namespace attnzoo::checkpoint
