// The codebooks of ggml's grid formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S): each format stores, per group of 8 (or 4) values, the index of one point of a
// fixed set of lattice points, and the point's coordinates are the magnitudes (IQ1: the
// signed values) before a scale. The sets are facts of the file format, the same in
// every reader; grid_codebooks.cpp holds them as level digits (each coordinate the index
// of its level), checked value by value against ggml's tables by the golden decodes in
// tests/core/test_grid_blocks.cpp.
#pragma once

#include <cstdint>
#include <span>

namespace dsinfer {

enum class Codebook : uint8_t {
  kIQ2XXS,  // 256 points of 8 coordinates from {8, 25, 43}
  kIQ2XS,   // 512 points, same levels
  kIQ2S,    // 1024 points, same levels
  kIQ3XXS,  // 256 points of 4 coordinates from {4, 12, 20, 28, 36, 44, 52, 62}
  kIQ3S,    // 512 points of 4 coordinates from {1, 3, 5, 7, 9, 11, 13, 15}
  kIQ1S,    // 2048 points of 8 coordinates from {-1, 0, 1} (IQ1_S and IQ1_M)
};

// A codebook's points: point i's coordinates at coordinates[dims * i ...], and as the
// bytes of words[i] (little-endian; the IQ3 books' four in the low bytes), which the
// decoders move eight codes at a time.
struct CodebookPoints {
  const int8_t* coordinates;
  const uint64_t* words;
  int size;  // number of points
  int dims;  // 8, or 4 for the IQ3 books
  std::span<const int8_t> levels;  // the values a coordinate takes, ascending
  const int8_t* point(int i) const { return coordinates + dims * i; }
};

const CodebookPoints& codebook_points(Codebook book);

// The encoders' search: the index of the point nearest (Euclidean) to the lattice point
// nearest `target` (dims coordinates in the book's units, each rounded to its nearest
// level). The same as the point nearest `target` wherever that lattice point is in the
// book, and a close one elsewhere, at the cost of a table lookup.
int nearest_codebook_point(Codebook book, const float* target);

}  // namespace dsinfer
