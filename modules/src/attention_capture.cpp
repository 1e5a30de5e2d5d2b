#include <attnzoo/modules/attention_capture.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace {
thread_local AttentionCapture* active_capture = nullptr;
}

AttentionCapture::AttentionCapture() : outer_(active_capture) { active_capture = this; }
AttentionCapture::~AttentionCapture() { active_capture = outer_; }
AttentionCapture* AttentionCapture::active() { return active_capture; }

AttentionRecord* record_attention(const torch::nn::Module* module, std::string kind, const at::Tensor& weights) {
  AttentionCapture* c = AttentionCapture::active();
  if (!c) return nullptr;
  AttentionRecord r;
  r.module = module;
  r.kind = std::move(kind);
  r.weights = weights.detach();
  c->records().push_back(std::move(r));
  return &c->records().back();
}

AttentionRecord* latest_attention_record(const torch::nn::Module* module) {
  AttentionCapture* c = AttentionCapture::active();
  if (!c) return nullptr;
  for (auto it = c->records().rbegin(); it != c->records().rend(); ++it)
    if (it->module == module) return &*it;
  return nullptr;
}

void set_global_geometry(AttentionRecord& r, std::array<int64_t, 2> q_grid, std::array<int64_t, 2> k_grid,
                         int64_t q_prefix, int64_t k_prefix) {
  r.query_grid = q_grid;
  r.key_grid = k_grid;
  const at::Tensor w = r.weights;
  r.query_map = [w, q_grid, k_grid, q_prefix, k_prefix](int64_t b, int64_t y, int64_t x) {
    const at::Tensor row = w[b].select(1, q_prefix + y * q_grid[1] + x).narrow(1, k_prefix, k_grid[0] * k_grid[1]);
    return row.reshape({w.size(1), k_grid[0], k_grid[1]}).to(torch::kCPU, torch::kFloat64);
  };
}

void set_square_grid_geometry(AttentionRecord& r, int64_t N) {
  auto s = static_cast<int64_t>(std::sqrt(static_cast<double>(N)));
  while (s * s > N) --s;
  while ((s + 1) * (s + 1) <= N) ++s;
  set_global_geometry(r, {s, s}, {s, s}, N - s * s, N - s * s);
}

void set_window_geometry(AttentionRecord& r, int64_t H, int64_t W, std::array<int64_t, 2> window,
                         std::array<int64_t, 2> shift) {
  r.query_grid = {H, W};
  r.key_grid = {H, W};
  const at::Tensor w = r.weights;
  r.query_map = [w, H, W, window, shift](int64_t b, int64_t y, int64_t x) {
    const int64_t wh = window[0], ww = window[1];
    const int64_t Hp = (H + wh - 1) / wh * wh, Wp = (W + ww - 1) / ww * ww, nh = Hp / wh, nw = Wp / ww;
    // The rolled map puts original position p at (p - shift) mod size.
    const int64_t ry = ((y - shift[0]) % H + H) % H, rx = ((x - shift[1]) % W + W) % W;
    const int64_t win = b * nh * nw + (ry / wh) * nw + rx / ww;
    const at::Tensor row = w[win].select(1, (ry % wh) * ww + rx % ww).to(torch::kCPU, torch::kFloat64);  // [heads, wh*ww]
    at::Tensor map = torch::zeros({w.size(1), H, W}, torch::kFloat64);
    for (int64_t i = 0; i < wh; ++i)
      for (int64_t j = 0; j < ww; ++j) {
        const int64_t py = (ry / wh) * wh + i, px = (rx / ww) * ww + j;
        if (py >= H || px >= W) continue;  // padding
        map.select(1, (py + shift[0]) % H).select(1, (px + shift[1]) % W) += row.select(1, i * ww + j);
      }
    return map;
  };
}

void set_routed_geometry(AttentionRecord& r, const at::Tensor& routes, std::array<int64_t, 2> size,
                         std::array<int64_t, 2> regions, std::array<int64_t, 2> win, std::array<int64_t, 2> pooled) {
  r.query_grid = size;
  r.key_grid = size;
  const at::Tensor w = r.weights, idx = routes.detach().to(torch::kCPU);
  const int64_t K = idx.size(-1);
  r.head_labels.assign(w.size(1), "top-" + std::to_string(K) + " regions");
  r.query_map = [w, idx, size, regions, win, pooled, K](int64_t b, int64_t y, int64_t x) {
    const int64_t n = regions[0] * regions[1], j = (y / win[0]) * regions[1] + x / win[1];
    const at::Tensor row = w[b * n + j].select(1, (y % win[0]) * win[1] + x % win[1]).to(torch::kCPU, torch::kFloat64);
    const at::Tensor per_key = row.view({w.size(1), K, pooled[0], pooled[1]});
    const int64_t sy = win[0] / pooled[0], sx = win[1] / pooled[1];
    at::Tensor map = torch::zeros({w.size(1), regions[0] * win[0], regions[1] * win[1]}, torch::kFloat64);
    for (int64_t k = 0; k < K; ++k) {
      const int64_t region = idx[b][j][k].item<int64_t>();
      const int64_t ry = (region / regions[1]) * win[0], rx = (region % regions[1]) * win[1];
      const at::Tensor cells = per_key.select(1, k).repeat_interleave(sy, 1).repeat_interleave(sx, 2) / double(sy * sx);
      map.slice(1, ry, ry + win[0]).slice(2, rx, rx + win[1]) += cells;
    }
    return map.slice(1, 0, size[0]).slice(2, 0, size[1]).contiguous();
  };
}

}  // namespace attnzoo::modules
