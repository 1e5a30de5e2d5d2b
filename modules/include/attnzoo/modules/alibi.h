#pragma once
// ALiBi's head slopes (Press et al., ICLR 2022), shared by the families that use them: sigmoid attention's alibi
// logits transform and lightning attention's decay rates (both repositories carry the same get_slopes).
#include <cstdint>
#include <vector>

namespace attnzoo::modules {

/// 2^(-8/n) geometric for a power of two n; otherwise those of the next lower power of two followed by every
/// other slope of the next higher one (get_slopes of the ALiBi code).
std::vector<double> alibi_slopes(int64_t heads);

}  // namespace attnzoo::modules
