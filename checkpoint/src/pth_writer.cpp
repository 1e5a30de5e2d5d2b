// torch.save's file format for a state dict, written without LibTorch's TorchScript pickler: that one tags
// typed dicts with torch.jit._pickle.restore_type_tag, a global that torch.load(weights_only=True) (the default
// since PyTorch 2.6) refuses. This writes what Python's torch.save itself writes for an OrderedDict of tensors.
#include <attnzoo/checkpoint/pickle.h>

#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <limits>

namespace attnzoo::checkpoint {
namespace {

// Pickle protocol 2 opcodes.
constexpr char kProto = '\x80', kGlobal = 'c', kEmptyTuple = ')', kReduce = 'R', kMark = '(', kTuple = 't',
               kSetItems = 'u', kStop = '.', kBinUnicode = 'X', kBinInt = 'J', kLong1 = '\x8a', kNewFalse = '\x89',
               kBinPersId = 'Q';

class PickleOut {
 public:
  void op(char c) { s_ += c; }
  void global(const char* module, const char* name) {
    op(kGlobal);
    s_ += std::string(module) + "\n" + name + "\n";
  }
  void str(const std::string& v) {
    op(kBinUnicode);
    u32(static_cast<uint32_t>(v.size()));
    s_ += v;
  }
  void integer(int64_t v) {
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      op(kBinInt);
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
      return;
    }
    op(kLong1);  // little-endian two's complement, 8 bytes
    s_ += '\x08';
    for (int i = 0; i < 8; ++i) s_ += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  }
  void int_tuple(c10::IntArrayRef v) {
    op(kMark);
    for (int64_t x : v) integer(x);
    op(kTuple);
  }
  std::string take() { return std::move(s_); }

 private:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) s_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string s_;
};

const char* storage_class(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "FloatStorage";
    case at::kDouble: return "DoubleStorage";
    case at::kHalf: return "HalfStorage";
    case at::kBFloat16: return "BFloat16Storage";
    case at::kLong: return "LongStorage";
    case at::kInt: return "IntStorage";
    case at::kShort: return "ShortStorage";
    case at::kChar: return "CharStorage";
    case at::kByte: return "ByteStorage";
    case at::kBool: return "BoolStorage";
    default: TORCH_CHECK(false, "torch.save writer: unsupported dtype ", t);
  }
}

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, OrderedDict()), the
// storage a persistent id ('storage', torch.<T>Storage, key, 'cpu', numel) resolved from data/<key>.
void pickle_tensor(PickleOut& p, const at::Tensor& t, const std::string& key) {
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.op(kMark);
  p.op(kMark);
  p.str("storage");
  p.global("torch", storage_class(t.scalar_type()));
  p.str(key);
  p.str("cpu");
  p.integer(t.numel());
  p.op(kTuple);
  p.op(kBinPersId);
  p.integer(0);
  p.int_tuple(t.sizes());
  p.int_tuple(t.strides());
  p.op(kNewFalse);
  p.global("collections", "OrderedDict");
  p.op(kEmptyTuple);
  p.op(kReduce);
  p.op(kTuple);
  p.op(kReduce);
}

}  // namespace

std::string serialize_pth(const TensorDict& tensors) {
  PickleOut p;
  p.op(kProto);
  p.op('\x02');
  p.global("collections", "OrderedDict");
  p.op(kEmptyTuple);
  p.op(kReduce);
  p.op(kMark);
  int64_t index = 0;
  std::vector<std::pair<std::string, at::Tensor>> storages;
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    TORCH_CHECK(t.is_cpu() && t.is_contiguous() && t.storage_offset() == 0 && t.storage().nbytes() == t.nbytes(),
                "torch.save writer: '", item.key(), "' must be a contiguous CPU tensor owning its storage");
    const std::string key = std::to_string(index++);
    p.str(item.key());
    pickle_tensor(p, t, key);
    storages.emplace_back(key, t);
  }
  p.op(kSetItems);
  p.op(kStop);
  const std::string pkl = p.take();

  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  writer.writeRecord("byteorder", "little", 6);
  for (const auto& [key, t] : storages) writer.writeRecord("data/" + key, t.data_ptr(), t.nbytes());
  writer.writeEndOfFile();
  return out;
}

}  // namespace attnzoo::checkpoint
