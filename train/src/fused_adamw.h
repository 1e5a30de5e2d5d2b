#pragma once
// One pass of AdamW over a parameter's contiguous storage (private to attnzoo_train): the weight decay,
// both moment updates and the parameter update per element, instead of seven ATen ops (and their
// temporaries) per parameter tensor. optim.cpp keeps the ATen formulation as the reference.
#include <cstdint>

namespace attnzoo::train::kernels {

struct AdamWStep {
  double lr, weight_decay;  // weight_decay already 0 for no-decay parameters
  double beta1, beta2, eps;
  double bias_correction1, bias_correction2;  // 1 - beta^step
};

template <typename T>
void fused_adamw(const AdamWStep& s, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n);

}  // namespace attnzoo::train::kernels
