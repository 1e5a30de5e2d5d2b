#pragma once
// Attention maps captured during a forward pass (`attnzoo viz attention`). Off unless an AttentionCapture is
// alive on the calling thread: then each attention module also records what it attended to, computed by its
// reference path (the same weights its output uses), and the block around it, which knows the geometry
// (windows, class tokens, reduced keys), adds the function that turns a query position into a map over the
// key positions. A normal forward pass pays one thread-local pointer check per attention module.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace attnzoo::modules {

/// [heads, key rows, key cols] float64 on the CPU: what query position (y, x) of image b attends to.
using QueryMap = std::function<at::Tensor(int64_t b, int64_t y, int64_t x)>;

struct AttentionRecord {
  const torch::nn::Module* module = nullptr;  // the attention module that computed it
  /// "softmax" (rows over keys that sum to one), "gpsa" (ConViT's gated softmax), "sigmoid" (rows of
  /// sigmoid weights), "lka" (VAN's multiplicative map, no query), "channel" (DaViT's channel-to-channel rows),
  /// "neighborhood" (NA / DiNAT rows over the k x k neighbours).
  std::string kind;
  at::Tensor weights;                       // as the module computed them (detached), e.g. [B*, heads, Nq, Nk]
  std::array<int64_t, 2> query_grid{0, 0};  // the map the query positions live on; {0, 0}: the map has no query
  std::array<int64_t, 2> key_grid{0, 0};    // rows x cols of each map query_map returns
  QueryMap query_map;                       // empty until the geometry is known
  std::vector<std::string> head_labels;     // per-head notes ("gate 0.83"); may be empty
};

/// Records the attention of every module that runs on this thread while it is alive (nested captures: the
/// innermost takes the records).
class AttentionCapture {
 public:
  AttentionCapture();
  ~AttentionCapture();
  AttentionCapture(const AttentionCapture&) = delete;
  AttentionCapture& operator=(const AttentionCapture&) = delete;
  std::vector<AttentionRecord>& records() { return records_; }
  /// The capture alive on this thread, or nullptr (the normal case: nothing is recorded).
  static AttentionCapture* active();

 private:
  AttentionCapture* outer_;
  std::vector<AttentionRecord> records_;
};

inline bool capturing_attention() { return AttentionCapture::active() != nullptr; }

/// Appends a record of `weights` (detached) for `module` when capturing; returns it, or nullptr when not capturing.
AttentionRecord* record_attention(const torch::nn::Module* module, std::string kind, const at::Tensor& weights);
/// The newest record of `module` in the active capture, or nullptr: the block that called it adds the geometry.
AttentionRecord* latest_attention_record(const torch::nn::Module* module);

// Geometries. Every map comes back as [heads, rows, cols] float64 on the CPU.

/// Rows [B, heads, Nq, Nk] of a global attention whose queries are `q_prefix` tokens (class tokens) followed by
/// a q_grid map, and whose keys are `k_prefix` tokens followed by a k_grid map (PVT's spatially reduced keys).
void set_global_geometry(AttentionRecord& r, std::array<int64_t, 2> q_grid, std::array<int64_t, 2> k_grid,
                         int64_t q_prefix = 0, int64_t k_prefix = 0);
/// A global attention over N tokens that are prefix (class) tokens followed by a square s x s map, the largest
/// s with s * s <= N (ViT / ConViT / DeiT token sequences).
void set_square_grid_geometry(AttentionRecord& r, int64_t N);
/// Rows [B * windows, heads, wh*ww, wh*ww] of attention inside non-overlapping windows of the H x W map, padded at
/// the bottom/right to whole windows (DaViT, Swin), windows row-major; `shift`: the map was rolled by -shift
/// first (Swin's shifted windows). The query's row is placed on the H x W map, zero outside its window.
void set_window_geometry(AttentionRecord& r, int64_t H, int64_t W, std::array<int64_t, 2> window,
                         std::array<int64_t, 2> shift = {0, 0});

/// BiFormer's routed attention: rows [B * regions, heads, rh*rw, K * ph*pw] of each query over the keys of the K
/// regions it was routed to (`routes` [B, regions, K], regions row-major on a `regions` grid of rh x rw cells,
/// keys pooled to ph x pw per region). A pooled key's weight is spread evenly over the cells it averages; the
/// map is cropped to `size` (the unpadded map).
void set_routed_geometry(AttentionRecord& r, const at::Tensor& routes, std::array<int64_t, 2> size,
                         std::array<int64_t, 2> regions, std::array<int64_t, 2> region_size, std::array<int64_t, 2> pooled);

}  // namespace attnzoo::modules
