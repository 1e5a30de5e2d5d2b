#include <attnzoo/modules/rel_pos.h>

#include <torch/torch.h>

namespace attnzoo::modules {

void RelPosEmbed2dImpl::reset() {
  const auto [qh, qw] = options.query_size();
  const auto [kh, kw] = options.key_size();
  const int64_t dim_head = options.dim_head();
  TORCH_CHECK(qh > 0 && qw > 0 && kh >= qh && kw >= qw && dim_head > 0, "RelPosEmbed2d: bad sizes query ", qh, "x",
              qw, ", key ", kh, "x", kw, ", dim_head ", dim_head);
  height_rel = register_parameter("height_rel", torch::zeros({2 * kh - 1, dim_head}));
  width_rel = register_parameter("width_rel", torch::zeros({2 * kw - 1, dim_head}));
  // Query i = (qr, qc) row-major; index tables select the relative offset of every key row / column.
  const auto qi = torch::arange(qh * qw, torch::kLong);
  const auto qr = qi.div(qw, "floor").unsqueeze(1), qc = qi.remainder(qw).unsqueeze(1);
  index_h_ = torch::arange(kh, torch::kLong).unsqueeze(0) - qr + (kh - 1);
  index_w_ = torch::arange(kw, torch::kLong).unsqueeze(0) - qc + (kw - 1);
}

void RelPosEmbed2dImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::RelPosEmbed2d(query_size=" << options.query_size()[0] << "x" << options.query_size()[1]
     << ", key_size=" << options.key_size()[0] << "x" << options.key_size()[1] << ", dim_head=" << options.dim_head() << ")";
}

at::Tensor RelPosEmbed2dImpl::forward(const at::Tensor& q) {
  const auto [qh, qw] = options.query_size();
  const auto [kh, kw] = options.key_size();
  const int64_t dim_head = options.dim_head();
  TORCH_CHECK(q.dim() >= 2 && q.size(-2) == qh * qw && q.size(-1) == dim_head, "RelPosEmbed2d: expected q [..., ",
              qh * qw, ", ", dim_head, "], got ", q.sizes());
  auto lead = q.sizes().vec();
  lead.pop_back();  // [..., Q]
  auto gather = [&](const at::Tensor& table, const at::Tensor& index, int64_t n) {
    const at::Tensor logits = torch::matmul(q, table.t());  // [..., Q, 2n - 1]
    auto shape = lead;
    shape.push_back(n);
    return logits.gather(-1, index.to(q.device()).expand(shape));  // [..., Q, n]
  };
  const at::Tensor rel_h = gather(height_rel, index_h_, kh);
  const at::Tensor rel_w = gather(width_rel, index_w_, kw);
  auto out_shape = lead;
  out_shape.push_back(kh * kw);
  return (rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).reshape(out_shape);
}

}  // namespace attnzoo::modules
