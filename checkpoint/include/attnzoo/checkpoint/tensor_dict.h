#pragma once
// An insertion-ordered name -> tensor map: the C++ form of a PyTorch state_dict.
#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

#include <string>

namespace attnzoo::checkpoint {

using TensorDict = torch::OrderedDict<std::string, at::Tensor>;

}  // namespace attnzoo::checkpoint
