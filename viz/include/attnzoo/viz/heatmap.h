#pragma once
// Heatmap figures (`attnzoo viz erf`, `attnzoo viz attention`): a grid of labelled tiles, each a 2-D map of
// values in one shared colour scale (viridis), optionally blended over a picture, with a title and a colour bar
// that carries the values.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::viz {

/// One map: rows x cols values (row-major) and its label under the tile.
struct HeatmapTile {
  int64_t rows = 0, cols = 0;
  std::vector<double> values;
  std::string label;
};

struct HeatmapFigure {
  std::string title;        // the line above the tiles
  std::string value_label;  // what the colour bar measures
  std::vector<HeatmapTile> tiles;
  int columns = 4;          // tiles per row
  int tile_px = 192;        // each tile's side on the picture (nearest-neighbour, so that map cells stay visible)
  /// A picture under every tile: rows x cols x 3 RGB bytes (empty: none), blended with `overlay_alpha` of colour.
  std::vector<uint8_t> background;
  int64_t background_rows = 0, background_cols = 0;
  double overlay_alpha = 0.6;
  /// Positions marked with a cross on every tile, as (y, x) fractions of the tile (the query of an attention map).
  std::vector<std::pair<double, double>> markers;
  /// The colour scale's ends (NaN: the smallest and largest value of all tiles).
  double vmin = NAN, vmax = NAN;
};

/// Draws `figure` into `png_path` (written atomically). Throws std::invalid_argument for a figure without
/// tiles or a tile whose values do not fill rows x cols, naming the tile.
void draw_heatmaps(const HeatmapFigure& figure, const std::string& png_path);

}  // namespace attnzoo::viz
