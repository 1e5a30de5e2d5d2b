#include <attnzoo/modules/nat_block.h>

#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;

MHSARPBImpl::MHSARPBImpl(int64_t dim_, int64_t input_size_, int64_t num_heads_, bool qkv_bias_, double qk_scale_)
    : dim(dim_), input_size(input_size_), num_heads(num_heads_), qkv_bias(qkv_bias_), qk_scale(qk_scale_) {
  reset();
}

void MHSARPBImpl::reset() {
  TORCH_CHECK(num_heads > 0 && dim % num_heads == 0, "MHSARPB: dim ", dim, " not divisible by num_heads ", num_heads);
  TORCH_CHECK(input_size > 0, "MHSARPB: input_size must be positive");
  const int64_t L = input_size, P = 2 * L - 1;
  rpb = register_parameter("rpb", torch::zeros({num_heads, P, P}));
  trunc_normal_(rpb, 0.02);
  // isotropic.py: index[i][j] of (coords_i - coords_j + L - 1) flattened, then flipped in both axes.
  const auto c = torch::arange(L * L, torch::kLong);
  const auto rows = c.div(L, "floor"), cols = c.remainder(L);
  const auto dr = rows.unsqueeze(1) - rows.unsqueeze(0) + (L - 1), dc = cols.unsqueeze(1) - cols.unsqueeze(0) + (L - 1);
  relative_position_index = register_buffer("relative_position_index", (dr * P + dc).flip({0, 1}).contiguous());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj = register_module("proj", nn::Linear(dim, dim));
}

at::Tensor MHSARPBImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(3) == dim, "MHSARPB: expected [B, H, W, ", dim, "], got ", x.sizes());
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), N = H * W, hd = dim / num_heads;
  TORCH_CHECK(N == input_size * input_size, "MHSARPB: feature map size (", H, " x ", W,
              ") is not equal to expected size (", input_size, " x ", input_size, ")");
  const auto t = qkv(x).reshape({B, N, 3, num_heads, hd}).permute({2, 0, 3, 1, 4});
  const double scale = qk_scale > 0 ? qk_scale : std::pow(static_cast<double>(hd), -0.5);
  at::Tensor attn = torch::matmul(t[0] * scale, t[1].transpose(-2, -1));
  const auto bias = rpb.permute({1, 2, 0}).flatten(0, 1).index_select(0, relative_position_index.view(-1).to(torch::kLong))  // Module::to(dtype) casts integer buffers too
                        .view({N, N, -1}).permute({2, 0, 1});
  attn = (attn + bias.unsqueeze(0)).softmax(-1);
  return proj(torch::matmul(attn, t[2]).transpose(1, 2).reshape({B, H, W, dim}));
}

NATLayerImpl::NATLayerImpl(const NATLayerOptions& options_) : options(options_) { reset(); }

void NATLayerImpl::reset() {
  const auto& o = options;
  const int64_t d = o.dim();
  if (o.layer_scale() > 0) {
    gamma1 = register_parameter("gamma1", torch::full({d}, o.layer_scale()));
    gamma2 = register_parameter("gamma2", torch::full({d}, o.layer_scale()));
  }
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({d}).eps(o.norm_eps())));
  if (o.global_size() > 0) {
    attn = nn::AnyModule(register_module("attn", MHSARPB(d, o.global_size(), o.num_heads(), o.qkv_bias(), o.qk_scale())));
  } else {
    attn = nn::AnyModule(register_module(
        "attn", NeighborhoodAttention2D(NeighborhoodAttentionOptions(d, o.num_heads(), o.kernel_size())
                                            .dilation(o.dilation())
                                            .qkv_bias(o.qkv_bias())
                                            .qk_scale(o.qk_scale())
                                            .attn_drop(o.attn_drop())
                                            .proj_drop(o.drop()))));
  }
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({d}).eps(o.norm_eps())));
  mlp = register_module("mlp", Mlp(MlpOptions(d).hidden_features(static_cast<int64_t>(static_cast<double>(d) * o.mlp_ratio()))
                                       .drop(o.drop())));
}

at::Tensor NATLayerImpl::forward(const at::Tensor& x) {
  const double p = options.drop_path();
  at::Tensor a = attn.forward(norm1(x));
  if (gamma1.defined()) a = gamma1 * a;
  at::Tensor y = x + drop_path(a, p, is_training());
  at::Tensor m = mlp(norm2(y));
  if (gamma2.defined()) m = gamma2 * m;
  return y + drop_path(m, p, is_training());
}

}  // namespace attnzoo::modules
