#include <attnzoo/checkpoint/safetensors.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/core/input_limits.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace attnzoo::checkpoint {
namespace {

struct DtypeCode {
  const char* code;
  at::ScalarType type;
};
constexpr DtypeCode kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat},  {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},  {"C64", at::kComplexFloat},
};

// Headers above this size are certainly corrupt (real ones are a few hundred KiB at most).
constexpr uint64_t kMaxHeader = 100ull << 20;

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw std::runtime_error(what + ": invalid safetensors file: " + msg);
}

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

at::ScalarType safetensors_dtype(const std::string& code) {
  for (const auto& d : kDtypes)
    if (code == d.code) return d.type;
  throw std::runtime_error("unsupported safetensors dtype '" + code + "'");
}

std::string safetensors_dtype_code(at::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.type) return d.code;
  throw std::runtime_error(std::string("dtype ") + c10::toString(dtype) + " cannot be stored in safetensors");
}

namespace {

struct Entry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

nlohmann::json parse_header(const std::string& bytes, const std::string& what, uint64_t* header_size) {
  if (bytes.size() < 8) fail(what, "file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  const uint64_t n = read_u64_le(bytes.data());
  if (n > kMaxHeader || n > bytes.size() - 8)
    fail(what, "header length " + std::to_string(n) + " exceeds the file size " + std::to_string(bytes.size()) + " (truncated file?)");
  nlohmann::json header;
  try {
    header = parse_json(bytes.substr(8, n), "header");
  } catch (const std::invalid_argument& e) {
    fail(what, e.what());
  }
  if (!header.is_object()) fail(what, "header is not a JSON object");
  *header_size = n;
  return header;
}

std::map<std::string, std::string> parse_metadata(const nlohmann::json& v, const std::string& what) {
  if (!v.is_object()) fail(what, "__metadata__ is not an object");
  std::map<std::string, std::string> out;
  for (auto m = v.begin(); m != v.end(); ++m) {
    if (!m.value().is_string()) fail(what, "__metadata__ value of '" + m.key() + "' is not a string");
    out[m.key()] = m.value().get<std::string>();
  }
  return out;
}

// One tensor's header entry, validated against the data section's size.
Entry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size, const std::string& what) {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
    fail(what, where + " needs dtype, shape and data_offsets");
  if (!v["dtype"].is_string()) fail(what, where + ": dtype is not a string");
  Entry e;
  e.name = name;
  try {
    e.dtype = safetensors_dtype(v["dtype"].get<std::string>());
  } catch (const std::exception& ex) {
    fail(what, where + ": " + ex.what());
  }
  const auto& shape = v["shape"];
  const auto& offs = v["data_offsets"];
  if (!shape.is_array()) fail(what, where + ": shape is not an array");
  uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) fail(what, where + ": shape entries must be non-negative integers");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > (1ull << 40) || (dim && numel > (1ull << 48) / dim)) fail(what, where + ": shape is absurdly large");
    numel *= dim;
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
    fail(what, where + ": data_offsets must be [begin, end]");
  e.begin = offs[0].get<uint64_t>();
  e.end = offs[1].get<uint64_t>();
  if (e.begin > e.end) fail(what, where + ": data_offsets begin > end");
  if (e.end > data_size)
    fail(what, where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                   ") out of range, data section has " + std::to_string(data_size) + " bytes (truncated file?)");
  const uint64_t expect = numel * c10::elementSize(e.dtype);
  if (e.end - e.begin != expect)
    fail(what, where + ": shape x dtype needs " + std::to_string(expect) + " bytes but data_offsets span " +
                   std::to_string(e.end - e.begin));
  return e;
}

at::Tensor read_entry(const Entry& e, const char* data) {
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
  if (e.dtype == at::kBool) {
    // Any byte other than 0/1 would be undefined behaviour as a C++ bool: normalise.
    auto* p = reinterpret_cast<uint8_t*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
  }
  return t;
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what) {
  uint64_t n = 0;
  const nlohmann::json header = parse_header(bytes, what, &n);
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      out.metadata = parse_metadata(it.value(), what);
    else
      entries.push_back(parse_entry(it.key(), it.value(), data_size, what));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end)
      fail(what, "tensors '" + entries[i - 1].name + "' and '" + entries[i].name + "' overlap");
  }
  for (const auto& e : entries) out.tensors.insert(e.name, read_entry(e, data));
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  return parse_safetensors(read_file_bytes(path), path);
}

std::string serialize_safetensors(const TensorDict& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& item : tensors) {
    at::Tensor t = item.value().detach().to(at::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[item.key()] = {{"dtype", safetensors_dtype_code(t.scalar_type())},
                          {"shape", t.sizes().vec()},
                          {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(t));
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section to 8 bytes
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (const auto& t : contiguous)
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  return out;
}

void write_safetensors(const std::string& path, const TensorDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error(path + ": cannot open file");
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  char len[8] = {};
  in.seekg(0);
  if (file_size < 8 || !in.read(len, 8)) fail(path, "file is shorter than the 8-byte header length");
  const uint64_t n = read_u64_le(len);
  if (n > kMaxHeader || n > file_size - 8)
    fail(path, "header length " + std::to_string(n) + " exceeds the file size " + std::to_string(file_size) + " (truncated file?)");
  // The length and the header alone: parse_header sees a file whose data section is empty.
  std::string head(8 + n, '\0');
  std::memcpy(head.data(), len, 8);
  if (!in.read(head.data() + 8, static_cast<std::streamsize>(n))) fail(path, "cannot read the header");
  uint64_t header_size = 0;
  const nlohmann::json header = parse_header(head, path, &header_size);
  return header.contains("__metadata__") ? parse_metadata(header["__metadata__"], path) : std::map<std::string, std::string>{};
}

bool looks_like_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[9];
  if (!in.read(buf, 9)) return false;
  const uint64_t n = read_u64_le(buf);
  return n > 0 && n < kMaxHeader && buf[8] == '{';
}

}  // namespace attnzoo::checkpoint
