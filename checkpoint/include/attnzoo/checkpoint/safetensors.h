#pragma once
// safetensors (https://github.com/huggingface/safetensors) reading and writing.
//
// Layout: u64 little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...},
// then the raw little-endian tensor bytes. The reader validates the header completely before it
// touches the data (offsets in range, no overlaps, shape x dtype == byte count) and reports the file
// and the offending tensor in every error.
#include <attnzoo/checkpoint/tensor_dict.h>

#include <map>
#include <string>

namespace attnzoo::checkpoint {

struct SafetensorsFile {
  TensorDict tensors;                           // in file (offset) order
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

/// Reads a whole file. Throws std::runtime_error naming the file and the problem.
SafetensorsFile read_safetensors(const std::string& path);
/// Only the "__metadata__" of a file (reads the header, not the tensors). Errors as read_safetensors.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);
/// Parses an in-memory image of a safetensors file; `what` names it in errors.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what = "<memory>");

/// Writes tensors (made contiguous, moved to CPU) in the given order; written atomically
/// (temporary file in the same folder, then rename) so a crash never leaves a half file.
void write_safetensors(const std::string& path, const TensorDict& tensors,
                       const std::map<std::string, std::string>& metadata = {});
/// Serialises to an in-memory image.
std::string serialize_safetensors(const TensorDict& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

/// safetensors dtype code ("F32", "BF16", ...) <-> at::ScalarType. Throws for unsupported codes.
at::ScalarType safetensors_dtype(const std::string& code);
std::string safetensors_dtype_code(at::ScalarType dtype);

/// True when the file starts like a safetensors file (plausible header length and a '{').
bool looks_like_safetensors(const std::string& path);

}  // namespace attnzoo::checkpoint
