// AArch64 kernels: Advanced SIMD (part of every ARMv8-A CPU), in two tables that differ
// only in the integer formats' int8 dot products: SDOT where the CPU has the ARMv8.2
// dot-product extension ("neon-dotprod"), widening multiplies where it does not
// ("neon"). Both are compiled into every aarch64 build; select_kernels picks at run time.
#if defined(__aarch64__)

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/cpu/absorb_columns.h"
#include "backend/cpu/kernels.h"
#include "core/dtype.h"

// GCC's arm_neon.h declares vdotq_s32 for "armv8.2-a+dotprod"; a plain "+dotprod"
// caller does not satisfy it.
#define DSINFER_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

namespace dsinfer::cpu {

// sequential_dots_neon.cpp
void sequential_dots8_neon(const float* q, const float* const* rows, int64_t n, float out[8]);
void sequential_dots_heads8_neon(const float* q_columns, const float* const* rows, int n_rows, int64_t n,
                                 float* out);
// weighted_sums_neon.cpp
void weighted_sum_neon(float* o, const float* p, const float* const* rows, int64_t n_rows, int64_t d);
void weighted_sums_neon(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward);
bool weighted_sums_stored_neon(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                               const void* const* rows, int64_t n_rows, int64_t d);
bool widen_stored_neon(DType dtype, const void* src, float* dst, int64_t n);

namespace {

// One fcvt instead of the portable decoder's call.
inline float half_to_float(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, sizeof v);
  return v;
}

// ---- Float formats -------------------------------------------------------------------
// Each weight type widens 8 stored values to two float32x4 (`widen8`) and one value to
// float (`at`). A stored value may be the real one times `kScale`'s inverse, when that
// makes the widening cheaper; the sum is rescaled once.

struct F32Weights {
  static constexpr float kScale = 1.0f;
  const float* w;
  void widen8(int64_t i, float32x4_t out[2]) const {
    out[0] = vld1q_f32(w + i);
    out[1] = vld1q_f32(w + i + 4);
  }
  float at(int64_t i) const { return w[i]; }
};

struct Bf16Weights {
  static constexpr float kScale = 1.0f;
  const uint16_t* w;
  void widen8(int64_t i, float32x4_t out[2]) const {
    const uint16x8_t h = vld1q_u16(w + i);  // bf16 is the high half of a float32
    out[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    out[1] = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
  float at(int64_t i) const { return bf16_to_f32(w[i]); }
};

struct F16Weights {
  static constexpr float kScale = 1.0f;
  const uint16_t* w;
  void widen8(int64_t i, float32x4_t out[2]) const {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(w + i));
    out[0] = vcvt_f32_f16(vget_low_f16(h));
    out[1] = vcvt_high_f32_f16(h);
  }
  float at(int64_t i) const { return half_to_float(w[i]); }
};

// E4M3 -> f16 is a shift: sign to bit 15, exponent|mantissa to bits 7..14. The f16 read
// that way is the E4M3 value times 2^-8 for normal and subnormal codes alike and widens
// to float exactly; the 2^8 is applied to the sum.
struct F8E4M3Weights {
  static constexpr float kScale = 256.0f;
  const uint8_t* w;
  void widen8(int64_t i, float32x4_t out[2]) const {
    const uint16x8_t v = vmovl_u8(vld1_u8(w + i));
    const uint16x8_t bits = vorrq_u16(vshlq_n_u16(vandq_u16(v, vdupq_n_u16(0x80)), 8),
                                      vshlq_n_u16(vandq_u16(v, vdupq_n_u16(0x7F)), 7));
    const float16x8_t h = vreinterpretq_f16_u16(bits);
    out[0] = vcvt_f32_f16(vget_low_f16(h));
    out[1] = vcvt_high_f32_f16(h);
  }
  float at(int64_t i) const { return f8e4m3_to_f32(w[i]) / kScale; }
};

// One weight row's sums against one activation row after the vector steps: the four
// accumulators added, then a scalar tail.
template <class W>
inline float finish_row(const float32x4_t (&acc)[4], const W& w, const float* x, int64_t i, int64_t n) {
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (int64_t j = i; j < n; ++j) sum += w.at(j) * x[j];
  return sum * W::kScale;
}

// RW weight rows against RX activation rows (one of the two counts is 1), out[rw * RX + rx].
// Per pair: four accumulators over 16 values per step, then 8 at a time into the first
// two, then finish_row. Every form is this one function, so the single-row kernels, the
// four-token one (RX = 4) and the rows read side by side (RW = 2 or 4: several streams
// keep more of memory busy than one row after another, docs/benchmarks.md, CPU backend,
// session 14, on x86) agree bitwise per pair.
template <int RW, int RX, class W>
inline void dot_rows(const W (&w)[RW], const float* x, int64_t x_stride, int64_t n, float out[RW * RX]) {
  float32x4_t acc[RW][RX][4];
  for (auto& weight_row : acc)
    for (auto& pair : weight_row)
      for (auto& a : pair) a = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int rw = 0; rw < RW; ++rw) {
      float32x4_t wv[4];
      w[rw].widen8(i, wv);
      w[rw].widen8(i + 8, wv + 2);
      for (int rx = 0; rx < RX; ++rx)
        for (int j = 0; j < 4; ++j)
          acc[rw][rx][j] = vfmaq_f32(acc[rw][rx][j], wv[j], vld1q_f32(x + rx * x_stride + i + 4 * j));
    }
  for (; i + 8 <= n; i += 8)
    for (int rw = 0; rw < RW; ++rw) {
      float32x4_t wv[2];
      w[rw].widen8(i, wv);
      for (int rx = 0; rx < RX; ++rx)
        for (int j = 0; j < 2; ++j)
          acc[rw][rx][j] = vfmaq_f32(acc[rw][rx][j], wv[j], vld1q_f32(x + rx * x_stride + i + 4 * j));
    }
  for (int rw = 0; rw < RW; ++rw)
    for (int rx = 0; rx < RX; ++rx) out[rw * RX + rx] = finish_row(acc[rw][rx], w[rw], x + rx * x_stride, i, n);
}

template <class W, class T>
float dot_one(const T* w, const float* x, int64_t n) {
  float out;
  dot_rows<1, 1>({W{w}}, x, 0, n, &out);
  return out;
}

float dot_f32(const float* w, const float* x, int64_t n) { return dot_one<F32Weights>(w, x, n); }
float dot_bf16(const uint16_t* w, const float* x, int64_t n) { return dot_one<Bf16Weights>(w, x, n); }
float dot_f16(const uint16_t* w, const float* x, int64_t n) { return dot_one<F16Weights>(w, x, n); }
float dot_f8e4m3(const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block) {
  auto raw = [](const uint8_t* wb, const float* xb, int64_t count) { return dot_one<F8E4M3Weights>(wb, xb, count); };
  return dot_f8e4m3_by_block(raw, w, x, n, scales, block);
}

void dot4_bf16(const uint16_t* w, const float* x, int64_t x_stride, int64_t n, float out[4]) {
  dot_rows<1, 4>({Bf16Weights{w}}, x, x_stride, n, out);
}

void dot2_bf16(const uint16_t* const w[2], const float* x, int64_t n, float out[2]) {
  dot_rows<2, 1>({Bf16Weights{w[0]}, Bf16Weights{w[1]}}, x, 0, n, out);
}

void dot_four_rows_bf16(const uint16_t* const w[4], const float* x, int64_t n, float out[4]) {
  dot_rows<4, 1>({Bf16Weights{w[0]}, Bf16Weights{w[1]}, Bf16Weights{w[2]}, Bf16Weights{w[3]}}, x, 0, n, out);
}

void dot2_f32(const float* const w[2], const float* x, int64_t n, float out[2]) {
  dot_rows<2, 1>({F32Weights{w[0]}, F32Weights{w[1]}}, x, 0, n, out);
}

// ---- Integer formats -----------------------------------------------------------------
// Both int8 paths sum a block's 32 products exactly into four int32 lanes (which products
// land in which lane differs between them, so the two tables may differ in the last bits
// of the float result); the float work after that is shared.

struct WideningInt8 {
  // Lane j: the sum of products 4j .. 4j+3.
  static int32x4_t dot_lanes(int8x16_t a, int8x16_t b) {
    return vpaddq_s32(vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b))), vpaddlq_s16(vmull_high_s8(a, b)));
  }
  static int32x4_t dot32(int8x16_t a0, int8x16_t b0, int8x16_t a1, int8x16_t b1) {
    // Products fit int16 (|-128 * -128| included); pairwise adds widen them to int32.
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
    acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
    return vpadalq_s16(acc, vmull_high_s8(a1, b1));
  }

  // Row sums of eight interleaved rows ("Interleaved rows" below). Two products may add
  // up to 2 x 128 x 128, past int16, so each group's products are widened before the next
  // group's are added: lanes hold two partial sums per row until rows() adds the pairs.
  class Rows8 {
   public:
    void add(const int8x16_t w[4][2], int8x16_t x) {
      group<0>(w[0], x);
      group<1>(w[1], x);
      group<2>(w[2], x);
      group<3>(w[3], x);
    }
    int32x4x2_t rows() const { return {vpaddq_s32(acc_[0], acc_[1]), vpaddq_s32(acc_[2], acc_[3])}; }

   private:
    template <int K>
    void group(const int8x16_t w[2], int8x16_t x) {
      const int8x16_t xk = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), K));
      acc_[0] = vpadalq_s16(acc_[0], vmull_s8(vget_low_s8(w[0]), vget_low_s8(xk)));
      acc_[1] = vpadalq_s16(acc_[1], vmull_high_s8(w[0], xk));
      acc_[2] = vpadalq_s16(acc_[2], vmull_s8(vget_low_s8(w[1]), vget_low_s8(xk)));
      acc_[3] = vpadalq_s16(acc_[3], vmull_high_s8(w[1], xk));
    }
    int32x4_t acc_[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
  };

  // Rows8 for small weights, whose products an instance sums in 16 bits and widens once:
  // each int16 lane takes one product per 4-value group, so 32 values of nibbles (0..15:
  // Q4_0, Q4_K) reach at most 8 x 15 x 128 = 15360, of five-bit codes (0..31: Q5_0, Q5_1,
  // Q5_K) 8 x 31 x 128 = 31744, and 16 values of Q6_K's codes (-32..31) 4 x 32 x 128 = 16384.
  class SmallRows8 {
   public:
    void add(const int8x16_t w[4][2], int8x16_t x) {
      group<0>(w[0], x);
      group<1>(w[1], x);
      group<2>(w[2], x);
      group<3>(w[3], x);
    }
    int32x4x2_t rows() const {
      return {vpaddq_s32(vpaddlq_s16(acc_[0]), vpaddlq_s16(acc_[1])),
              vpaddq_s32(vpaddlq_s16(acc_[2]), vpaddlq_s16(acc_[3]))};
    }

   private:
    template <int K>
    void group(const int8x16_t w[2], int8x16_t x) {
      const int8x16_t xk = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), K));
      acc_[0] = vmlal_s8(acc_[0], vget_low_s8(w[0]), vget_low_s8(xk));
      acc_[1] = vmlal_high_s8(acc_[1], w[0], xk);
      acc_[2] = vmlal_s8(acc_[2], vget_low_s8(w[1]), vget_low_s8(xk));
      acc_[3] = vmlal_high_s8(acc_[3], w[1], xk);
    }
    int16x8_t acc_[4] = {vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0)};
  };
};

// Not always_inline: the templates that call it carry no target attribute of their own
// (an always_inline callee with one fails to compile there). Once they are inlined into
// the DSINFER_DOTPROD entry points the compiler inlines this too (checked: the entry
// points contain sdot and no call).
struct DotprodInt8 {
  DSINFER_DOTPROD static int32x4_t dot_lanes(int8x16_t a, int8x16_t b) { return vdotq_s32(vdupq_n_s32(0), a, b); }
  DSINFER_DOTPROD static int32x4_t dot32(int8x16_t a0, int8x16_t b0, int8x16_t a1, int8x16_t b1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1);
  }

  // Row sums of eight interleaved rows: SDOT by element takes group K's four activation
  // bytes from lane K of x, so x is loaded once per half block and never broadcast.
  class Rows8 {
   public:
    DSINFER_DOTPROD void add(const int8x16_t w[4][2], int8x16_t x) {
      group<0>(w[0], x);
      group<1>(w[1], x);
      group<2>(w[2], x);
      group<3>(w[3], x);
    }
    int32x4x2_t rows() const { return {acc_[0], acc_[1]}; }

   private:
    template <int K>
    DSINFER_DOTPROD void group(const int8x16_t w[2], int8x16_t x) {
      acc_[0] = vdotq_laneq_s32(acc_[0], w[0], x, K);
      acc_[1] = vdotq_laneq_s32(acc_[1], w[1], x, K);
    }
    int32x4_t acc_[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
  };
  // Small weights are int8 values like any other.
  using SmallRows8 = Rows8;
};

// A Q8_0 block: its 32 signed weights.
struct Q8Block {
  int8x16_t lo, hi;
  explicit Q8Block(const BlockQ8_0& b) : lo(vld1q_s8(b.qs)), hi(vld1q_s8(b.qs + 16)) {}
};

// A Q4_0 block: nibble values 0..15 less the format's offset of 8. Values 0..15 sit in the
// low nibbles, 16..31 in the high ones.
struct Q4Block {
  int8x16_t lo, hi;
  explicit Q4Block(const BlockQ4_0& b) {
    const uint8x16_t raw = vld1q_u8(b.qs);
    const int8x16_t eight = vdupq_n_s8(8);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), eight);
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
  }
};

// One quantised weight row against R activation rows, one float accumulator per row.
template <class Int8, class Block, class BlockW, int R>
[[gnu::always_inline]] inline void dot_blocks(const BlockW* w, const ActBlockQ8* x, int64_t x_stride,
                                              int64_t n_blocks, float out[R]) {
  float32x4_t acc[R];
  for (auto& a : acc) a = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Block wb(w[b]);
    const float dw = half_to_float(w[b].d);
    for (int r = 0; r < R; ++r) {
      const ActBlockQ8& xb = x[r * x_stride + b];
      const int32x4_t dot = Int8::dot32(wb.lo, vld1q_s8(xb.qs), wb.hi, vld1q_s8(xb.qs + 16));
      acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(dot), dw * xb.d);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = vaddvq_f32(acc[r]);
}

// ---- Interleaved rows (BlockQ4_0x8 / BlockQ8_0x8, layout in kernels.h) ------------------
// A block is read as two half blocks: four 4-value groups of the eight rows, w[k][0] holding
// rows 0..3 and w[k][1] rows 4..7, against 16 activation values whose 32-bit lane k is
// group k's. Q8_0x8's halves are its first and last 128 bytes (activations 0..15, 16..31);
// Q4_0x8's are the low and the high nibbles of its 128 bytes. Int8::Rows8 (any int8
// weights) and Int8::SmallRows8 (nibbles, Q6_K codes) add half blocks into exact int32 sums
// per row.

// A block's exact row sums, scaled, into one token's float sums. Every tile width goes
// through this, so a token's float operations do not depend on how many tokens share the
// call (the batch invariance of kernels.h). `d` holds the eight rows' float scales.
[[gnu::always_inline]] inline void add_block(float32x4_t acc[2], int32x4x2_t rows, float32x4x2_t d, float dx) {
  acc[0] = vfmaq_f32(acc[0], vcvtq_f32_s32(rows.val[0]), vmulq_n_f32(d.val[0], dx));
  acc[1] = vfmaq_f32(acc[1], vcvtq_f32_s32(rows.val[1]), vmulq_n_f32(d.val[1], dx));
}

// The eight rows' f16 scales as floats.
inline float32x4x2_t widen_f16x8(const uint16_t d[8]) {
  const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(d));
  return {vcvt_f32_f16(vget_low_f16(h)), vcvt_high_f32_f16(h)};
}

// The eight rows' float scales times eight small integers (a K-quant's sub-block scales).
inline float32x4x2_t times(float32x4x2_t d, int16x8_t s) {
  return {vmulq_f32(d.val[0], vcvtq_f32_s32(vmovl_s16(vget_low_s16(s)))),
          vmulq_f32(d.val[1], vcvtq_f32_s32(vmovl_high_s16(s)))};
}

[[gnu::always_inline]] inline void add_block(float32x4_t acc[2], int32x4x2_t rows, const uint16_t d[8], float dx) {
  add_block(acc, rows, widen_f16x8(d), dx);
}

template <int NT>
[[gnu::always_inline]] inline void store_tile(const float32x4_t acc[NT][2], float* out, int64_t out_stride) {
  for (int t = 0; t < NT; ++t) {
    vst1q_f32(out + t * out_stride, acc[t][0]);
    vst1q_f32(out + t * out_stride + 4, acc[t][1]);
  }
}

template <class Int8, int NT>
[[gnu::always_inline]] inline void gemm_q8_0x8_tile(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                    int64_t x_stride, float* out, int64_t out_stride) {
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    typename Int8::Rows8 sums[NT];
    for (int h = 0; h < 2; ++h) {
      int8x16_t wq[4][2];
      for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 2; ++i) wq[k][i] = vld1q_s8(w[b].qs + 128 * h + 32 * k + 16 * i);
      for (int t = 0; t < NT; ++t) sums[t].add(wq, vld1q_s8(x[t * x_stride + b].qs + 16 * h));
    }
    for (int t = 0; t < NT; ++t) add_block(acc[t], sums[t].rows(), w[b].d, x[t * x_stride + b].d);
  }
  store_tile<NT>(acc, out, out_stride);
}

// Nibbles 0..15 as they are: the format's offset of 8 comes off each block's row sums as
// 8 * (sum of the token's 32 values), exactly, one subtraction per token and block instead
// of one per weight register.
template <class Int8, int NT>
[[gnu::always_inline]] inline void gemm_q4_0x8_tile(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                    int64_t x_stride, float* out, int64_t out_stride) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    int8x16_t lo[4][2], hi[4][2];
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t packed = vld1q_u8(w[b].qs + 32 * k + 16 * i);
        lo[k][i] = vreinterpretq_s8_u8(vandq_u8(packed, low_nibbles));
        hi[k][i] = vreinterpretq_s8_u8(vshrq_n_u8(packed, 4));
      }
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      typename Int8::SmallRows8 sums;
      sums.add(lo, vld1q_s8(xb.qs));
      sums.add(hi, vld1q_s8(xb.qs + 16));
      int32x4x2_t rows = sums.rows();
      const int32x4_t offset = vdupq_n_s32(8 * xb.sum);
      rows.val[0] = vsubq_s32(rows.val[0], offset);
      rows.val[1] = vsubq_s32(rows.val[1], offset);
      add_block(acc[t], rows, w[b].d, xb.d);
    }
  }
  store_tile<NT>(acc, out, out_stride);
}

// ---- FP4 rows (BlockFp4x8, layout in kernels.h) ----------------------------------------
// Against float32 activations. A 16-byte half of group k holds four rows' values 4k..4k+3
// (low nibbles) and 16+4k..16+4k+3 (high nibbles); one table lookup turns the codes into
// their doubled values (exact int8), which widen to four floats per row and are multiplied
// by the row's block scale 2^(e - 127) (a power of two: exact). Each token then adds one
// multiply-add per row and four values into that row's four-lane sum, in the same order
// whichever tile the token is in; the end folds the lanes and halves the doubled values.
template <int Lane>
[[gnu::always_inline]] inline float32x4_t scaled_row(int16x4_t codes, float32x4_t scales) {
  return vmulq_laneq_f32(vcvtq_f32_s32(vmovl_s16(codes)), scales, Lane);
}

template <int NT>
[[gnu::always_inline]] inline void gemm_fp4x8_tile(const BlockFp4x8* w, int64_t n_blocks, const float* x,
                                                   int64_t x_stride, float* out, int64_t out_stride) {
  const int8x16_t values = vld1q_s8(kE2M1Doubled);
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
  float32x4_t acc[NT][8];
  for (auto& token : acc)
    for (auto& a : token) a = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint16x8_t e = vmovl_u8(vld1_u8(w[b].e));
    // Exponent field e: 2^(e - 127), and 0 for code 0 (PackedWeight keeps e at most 127 + 73).
    const float32x4_t scales[2] = {vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(vget_low_u16(e)), 23)),
                                   vreinterpretq_f32_u32(vshlq_n_u32(vmovl_high_u16(e), 23))};
    for (int k = 0; k < 4; ++k)
      for (int half = 0; half < 2; ++half) {  // rows 0..3, rows 4..7
        const uint8x16_t packed = vld1q_u8(w[b].qs + 32 * k + 16 * half);
        const int8x16_t codes[2] = {vqtbl1q_s8(values, vandq_u8(packed, low_nibbles)),
                                    vqtbl1q_s8(values, vshrq_n_u8(packed, 4))};
        for (int nibble = 0; nibble < 2; ++nibble) {
          const int16x8_t wide[2] = {vmovl_s8(vget_low_s8(codes[nibble])), vmovl_high_s8(codes[nibble])};
          const float32x4_t rows[4] = {scaled_row<0>(vget_low_s16(wide[0]), scales[half]),
                                       scaled_row<1>(vget_high_s16(wide[0]), scales[half]),
                                       scaled_row<2>(vget_low_s16(wide[1]), scales[half]),
                                       scaled_row<3>(vget_high_s16(wide[1]), scales[half])};
          for (int t = 0; t < NT; ++t) {
            const float32x4_t xv = vld1q_f32(x + t * x_stride + 32 * b + 16 * nibble + 4 * k);
            for (int r = 0; r < 4; ++r) acc[t][4 * half + r] = vfmaq_f32(acc[t][4 * half + r], rows[r], xv);
          }
        }
      }
  }
  for (int t = 0; t < NT; ++t) {
    const float32x4_t* a = acc[t];
    const float32x4_t low = vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3]));
    const float32x4_t high = vpaddq_f32(vpaddq_f32(a[4], a[5]), vpaddq_f32(a[6], a[7]));
    vst1q_f32(out + t * out_stride, vmulq_n_f32(low, 0.5f));
    vst1q_f32(out + t * out_stride + 4, vmulq_n_f32(high, 0.5f));
  }
}

// Two tokens per pass keep the sixteen row sums and the weights in registers.
void gemm_fp4x8(const BlockFp4x8* w, int64_t n_blocks, const float* x, int64_t x_stride, int n_tokens, float* out,
                int64_t out_stride) {
  int t = 0;
  for (; t + 2 <= n_tokens; t += 2)
    gemm_fp4x8_tile<2>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  if (t < n_tokens) gemm_fp4x8_tile<1>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
}

// ---- Interleaved K-quant rows (BlockQ4_Kx8 / BlockQ6_Kx8, layout in kernels.h) ---------
// A super-block is kUnits units of one scale per row. A Unit(block, u) holds unit u's
// weights as kHalves half blocks (as above), taken against 16 * kHalves activation values
// from offset x_offset(u) of activation block x_block(u) under the super-block, its rows'
// scales (super-block scale times the unit's, exact in float) and finish(), any further
// term per token.

// Q4_K's unit is a 32-value sub-block: chunk u / 2's 256 bytes, low nibbles for even u,
// high for odd; its groups 0..3 and 4..7 are the two half blocks. The mins come off in
// float, as dmin * min * (x.d * x.sum), after the sub-block's scaled dot product.
struct Q4KUnit {
  using Block = BlockQ4_Kx8;
  static constexpr int kUnits = 8, kHalves = 2;
  static int x_block(int u) { return u; }
  static int x_offset(int) { return 0; }

  int8x16_t w[kHalves][4][2];
  float32x4x2_t scale, min;

  [[gnu::always_inline]] Q4KUnit(const Block& b, int u) {
    const uint8_t* chunk = b.qs + 256 * (u / 2);
    const bool high = u % 2 != 0;
    for (int k = 0; k < 8; ++k)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t packed = vld1q_u8(chunk + 32 * k + 16 * i);
        w[k / 4][k % 4][i] = vreinterpretq_s8_u8(high ? vshrq_n_u8(packed, 4) : vandq_u8(packed, vdupq_n_u8(0x0F)));
      }
    scale = times(widen_f16x8(b.d), vreinterpretq_s16_u16(vmovl_u8(vld1_u8(b.scales[u]))));
    min = times(widen_f16x8(b.dmin), vreinterpretq_s16_u16(vmovl_u8(vld1_u8(b.mins[u]))));
  }
  [[gnu::always_inline]] void finish(float32x4_t acc[2], const ActBlockQ8& x) const {
    const float32x4_t xsum = vdupq_n_f32(x.d * static_cast<float>(x.sum));
    acc[0] = vfmsq_f32(acc[0], min.val[0], xsum);
    acc[1] = vfmsq_f32(acc[1], min.val[1], xsum);
  }
};

// A half block of five-bit codes: the low four bits with bit `bit` of each qh byte moved
// over them as the fifth (layouts of Q5_0x8, Q5_1x8 and Q5_Kx8 in kernels.h).
[[gnu::always_inline]] inline int8x16_t with_fifth_bit(uint8x16_t low, uint8x16_t qh, int bit) {
  const uint8x16_t fifth = vandq_u8(vshlq_u8(qh, vdupq_n_s8(static_cast<int8_t>(4 - bit))), vdupq_n_u8(0x10));
  return vreinterpretq_s8_u8(vorrq_u8(low, fifth));
}

// Q5_K's unit is Q4_K's with the fifth bits: bit k of byte 4r + i of qh[u / 2][u % 2] for
// group k (values 4k..4k+3 of the sub-block).
struct Q5KUnit : Q4KUnit {
  using Block = BlockQ5_Kx8;
  [[gnu::always_inline]] Q5KUnit(const Block& b, int u) : Q4KUnit(b.low, u) {
    for (int i = 0; i < 2; ++i) {
      const uint8x16_t qh = vld1q_u8(b.qh[u / 2][u % 2] + 16 * i);
      for (int k = 0; k < 8; ++k) w[k / 4][k % 4][i] = with_fifth_bit(vreinterpretq_u8_s8(w[k / 4][k % 4][i]), qh, k);
    }
  }
};

// Q6_K's unit is a 16-value half of a 32-value block: the codes of its four groups (ql's
// nibbles with qh's pair j = block % 4 moved to bits 4 and 5, layout in kernels.h) less
// 32, as signed bytes, with the unit's own int8 scale, nothing further.
struct Q6KUnit {
  using Block = BlockQ6_Kx8;
  static constexpr int kUnits = 16, kHalves = 1;
  static int x_block(int u) { return u / 2; }
  static int x_offset(int u) { return 16 * (u % 2); }

  int8x16_t w[kHalves][4][2];
  float32x4x2_t scale;

  [[gnu::always_inline]] Q6KUnit(const Block& b, int u) {
    const int block = u / 2;
    const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(4 - 2 * (block % 4)));
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i) {
        const int at = 32 * (4 * (u % 2) + k) + 16 * i;
        const uint8x16_t packed = vld1q_u8(b.ql + 256 * (block / 2) + at);
        const uint8x16_t nibbles = block % 2 ? vshrq_n_u8(packed, 4) : vandq_u8(packed, vdupq_n_u8(0x0F));
        const uint8x16_t high = vandq_u8(vshlq_u8(vld1q_u8(b.qh + 256 * (block / 4) + at), shift), vdupq_n_u8(0x30));
        w[0][k][i] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(nibbles, high)), vdupq_n_s8(32));
      }
    scale = times(widen_f16x8(b.d), vmovl_s8(vld1_s8(b.scales[u])));
  }
  void finish(float32x4_t[2], const ActBlockQ8&) const {}
};

// Per super-block, unit and token: the unit's exact row sums, scaled through add_block,
// then the unit's further term; the same float operations per token for every NT.
template <class Int8, class Unit, int NT>
[[gnu::always_inline]] inline void gemm_kx8_tile(const typename Unit::Block* w, int64_t n_blocks, const ActBlockQ8* x,
                                                 int64_t x_stride, float* out, int64_t out_stride) {
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b)
    for (int u = 0; u < Unit::kUnits; ++u) {
      const Unit unit(w[b], u);
      for (int t = 0; t < NT; ++t) {
        const ActBlockQ8& xb = x[t * x_stride + 8 * b + Unit::x_block(u)];
        typename Int8::SmallRows8 sums;
        for (int h = 0; h < Unit::kHalves; ++h) sums.add(unit.w[h], vld1q_s8(xb.qs + Unit::x_offset(u) + 16 * h));
        add_block(acc[t], sums.rows(), unit.scale, xb.d);
        unit.finish(acc[t], xb);
      }
    }
  store_tile<NT>(acc, out, out_stride);
}

// Q5_0 / Q5_1 as gemm_q4_0x8_tile with five-bit codes: Q5_0's offset of 16 comes off the
// row sums in integers, Q5_1's offsets m join in float as m * (x.d * x.sum).
template <class Int8, int NT, typename Block>
[[gnu::always_inline]] inline void gemm_q5x8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x,
                                                  int64_t x_stride, float* out, int64_t out_stride) {
  constexpr bool kOffsets = std::is_same_v<Block, BlockQ5_1x8>;
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    int8x16_t lo[4][2], hi[4][2];
    for (int i = 0; i < 2; ++i) {
      const uint8x16_t qh = vld1q_u8(w[b].qh + 16 * i);
      for (int k = 0; k < 4; ++k) {
        const uint8x16_t packed = vld1q_u8(w[b].qs + 32 * k + 16 * i);
        lo[k][i] = with_fifth_bit(vandq_u8(packed, low_nibbles), qh, k);
        hi[k][i] = with_fifth_bit(vshrq_n_u8(packed, 4), qh, 4 + k);
      }
    }
    const float32x4x2_t d = widen_f16x8(w[b].d);
    float32x4x2_t m{};
    if constexpr (kOffsets) m = widen_f16x8(w[b].m);
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      typename Int8::SmallRows8 sums;
      sums.add(lo, vld1q_s8(xb.qs));
      sums.add(hi, vld1q_s8(xb.qs + 16));
      int32x4x2_t rows = sums.rows();
      if constexpr (!kOffsets) {
        const int32x4_t offset = vdupq_n_s32(16 * xb.sum);
        rows.val[0] = vsubq_s32(rows.val[0], offset);
        rows.val[1] = vsubq_s32(rows.val[1], offset);
      }
      add_block(acc[t], rows, d, xb.d);
      if constexpr (kOffsets) {
        const float32x4_t xsum = vdupq_n_f32(xb.d * static_cast<float>(xb.sum));
        acc[t][0] = vfmaq_f32(acc[t][0], m.val[0], xsum);
        acc[t][1] = vfmaq_f32(acc[t][1], m.val[1], xsum);
      }
    }
  }
  store_tile<NT>(acc, out, out_stride);
}

// An IQ4_NLx8 block's indices (128 bytes at qs) looked up as their grid values, one table
// lookup per half block: signed values up to 127 in magnitude, so the general Rows8.
struct IQ4NLBlock {
  int8x16_t lo[4][2], hi[4][2];
  [[gnu::always_inline]] explicit IQ4NLBlock(const uint8_t* qs) {
    const int8x16_t grid = vld1q_s8(kIQ4NLValues);
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t packed = vld1q_u8(qs + 32 * k + 16 * i);
        lo[k][i] = vqtbl1q_s8(grid, vandq_u8(packed, vdupq_n_u8(0x0F)));
        hi[k][i] = vqtbl1q_s8(grid, vshrq_n_u8(packed, 4));
      }
  }
  template <class Int8>
  [[gnu::always_inline]] int32x4x2_t rows(const ActBlockQ8& xb) const {
    typename Int8::Rows8 sums;
    sums.add(lo, vld1q_s8(xb.qs));
    sums.add(hi, vld1q_s8(xb.qs + 16));
    return sums.rows();
  }
};

template <class Int8, int NT>
[[gnu::always_inline]] inline void gemm_iq4_nlx8_tile(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                      int64_t x_stride, float* out, int64_t out_stride) {
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const IQ4NLBlock block(w[b].qs);
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      add_block(acc[t], block.rows<Int8>(xb), w[b].d, xb.d);
    }
  }
  store_tile<NT>(acc, out, out_stride);
}

// IQ4_XS: each sub-block's IQ4_NL row sums times its integer scale, exactly, then the
// rows' super-block scales in add_block.
template <class Int8, int NT>
[[gnu::always_inline]] inline void gemm_iq4_xsx8_tile(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                      int64_t x_stride, float* out, int64_t out_stride) {
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float32x4x2_t d = widen_f16x8(w[b].d);
    for (int j = 0; j < 8; ++j) {
      const IQ4NLBlock block(w[b].qs[j]);
      const int16x8_t scale = vmovl_s8(vld1_s8(w[b].scales[j]));
      const int32x4_t scale_lo = vmovl_s16(vget_low_s16(scale)), scale_hi = vmovl_high_s16(scale);
      for (int t = 0; t < NT; ++t) {
        const ActBlockQ8& xb = x[t * x_stride + 8 * b + j];
        int32x4x2_t rows = block.rows<Int8>(xb);
        rows.val[0] = vmulq_s32(rows.val[0], scale_lo);
        rows.val[1] = vmulq_s32(rows.val[1], scale_hi);
        add_block(acc[t], rows, d, xb.d);
      }
    }
  }
  store_tile<NT>(acc, out, out_stride);
}

// Eight bytes widened to two vectors of four 32-bit lanes.
[[gnu::always_inline]] inline int32x4x2_t widen_s16x8(int16x8_t v) {
  return {vmovl_s16(vget_low_s16(v)), vmovl_high_s16(v)};
}

// Q2_K and Q3_K per 32-value block (h, j) of a super-block (layouts in kernels.h): one
// shift per half block gives the rows' two-bit codes (with the third bits for Q3_K), whose
// small products SmallRows8 sums per sub-block, groups 0-3 the first and 4-7 the second.
// The sub-block scales multiply those sums in integers, and the mins (Q2_K) or the
// codes' offset of 4 (Q3_K) the two half-block activation sums, before one or two float
// steps per token, the same for every NT.
template <class Int8, int NT, typename Block>
[[gnu::always_inline]] inline void gemm_low_bit_kx8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x,
                                                         int64_t x_stride, float* out, int64_t out_stride) {
  constexpr bool kThreeBit = std::is_same_v<Block, BlockQ3_Kx8>;
  const uint8x16_t two_bits = vdupq_n_u8(3);
  float32x4_t acc[NT][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float32x4x2_t d = widen_f16x8(w[b].d);
    for (int block = 0; block < 8; ++block) {
      const int h = block / 4, j = block % 4;
      const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * j));
      int8x16_t codes[2][4][2];
      for (int i = 0; i < 2; ++i) {
        uint8x16_t high{};
        if constexpr (kThreeBit) high = vld1q_u8(w[b].hmask[block] + 16 * i);
        for (int k = 0; k < 8; ++k) {
          uint8x16_t c = vandq_u8(vshlq_u8(vld1q_u8(w[b].qs + 256 * h + 32 * k + 16 * i), shift), two_bits);
          if constexpr (kThreeBit)
            c = vorrq_u8(c, vandq_u8(vshlq_u8(high, vdupq_n_s8(static_cast<int8_t>(2 - k))), vdupq_n_u8(4)));
          codes[k / 4][k % 4][i] = vreinterpretq_s8_u8(c);
        }
      }
      int32x4x2_t scale_lo, scale_hi, offset_lo, offset_hi;
      if constexpr (kThreeBit) {
        scale_lo = offset_lo = widen_s16x8(vmovl_s8(vld1_s8(w[b].scales[2 * block])));
        scale_hi = offset_hi = widen_s16x8(vmovl_s8(vld1_s8(w[b].scales[2 * block + 1])));
      } else {
        const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(w[b].scales[2 * block])));
        const int16x8_t hi = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(w[b].scales[2 * block + 1])));
        scale_lo = widen_s16x8(vandq_s16(lo, vdupq_n_s16(0x0F)));
        scale_hi = widen_s16x8(vandq_s16(hi, vdupq_n_s16(0x0F)));
        offset_lo = widen_s16x8(vshrq_n_s16(lo, 4));
        offset_hi = widen_s16x8(vshrq_n_s16(hi, 4));
      }
      float32x4x2_t dmin{};
      if constexpr (!kThreeBit) dmin = widen_f16x8(w[b].dmin);
      for (int t = 0; t < NT; ++t) {
        const ActBlockQ8& xb = x[t * x_stride + 8 * b + block];
        const int8x16_t first_half = vld1q_s8(xb.qs);
        typename Int8::SmallRows8 first, second;
        first.add(codes[0], first_half);
        second.add(codes[1], vld1q_s8(xb.qs + 16));
        const int32x4x2_t f = first.rows(), s = second.rows();
        const int32_t half_sum = vaddlvq_s8(first_half), other = xb.sum - half_sum;
        for (int r = 0; r < 2; ++r) {
          int32x4_t scaled = vmlaq_s32(vmulq_s32(f.val[r], scale_lo.val[r]), s.val[r], scale_hi.val[r]);
          const int32x4_t offset = vmlaq_n_s32(vmulq_n_s32(offset_lo.val[r], half_sum), offset_hi.val[r], other);
          if constexpr (kThreeBit) scaled = vsubq_s32(scaled, vshlq_n_s32(offset, 2));
          acc[t][r] = vfmaq_f32(acc[t][r], vcvtq_f32_s32(scaled), vmulq_n_f32(d.val[r], xb.d));
          if constexpr (!kThreeBit)
            acc[t][r] = vfmsq_f32(acc[t][r], vcvtq_f32_s32(offset), vmulq_n_f32(dmin.val[r], xb.d));
        }
      }
    }
  }
  store_tile<NT>(acc, out, out_stride);
}

// Splits n_tokens into tiles of at most Max tokens (2 or 4: the accumulators of more would
// not fit in registers) and calls tile(nt, first) with nt an integral constant. Forced
// inline, as the tiles are (the lambdas too), so that the dot-product entry points compile
// them for the extension.
template <int Max, typename Tile>
[[gnu::always_inline]] inline void for_token_tiles(int n_tokens, Tile&& tile) {
  static_assert(Max == 2 || Max == 4);
  for (int t = 0; t < n_tokens; t += Max) {
    const int n = std::min(Max, n_tokens - t);
    if (n == 1) {
      tile(std::integral_constant<int, 1>{}, t);
    } else if (n == 2) {
      tile(std::integral_constant<int, 2>{}, t);
    } else if constexpr (Max == 4) {
      if (n == 3) tile(std::integral_constant<int, 3>{}, t);
      else tile(std::integral_constant<int, 4>{}, t);
    }
  }
}

// Forced inline so that the dot-product entry points below compile them for the extension.
template <class Int8>
struct IntKernels {
  [[gnu::always_inline]] static float dot_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks) {
    float out;
    dot_blocks<Int8, Q8Block, BlockQ8_0, 1>(w, x, 0, n_blocks, &out);
    return out;
  }
  [[gnu::always_inline]] static float dot_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks) {
    float out;
    dot_blocks<Int8, Q4Block, BlockQ4_0, 1>(w, x, 0, n_blocks, &out);
    return out;
  }
  [[gnu::always_inline]] static void dot4_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride,
                                               int64_t n_blocks, float out[4]) {
    dot_blocks<Int8, Q8Block, BlockQ8_0, 4>(w, x, x_stride, n_blocks, out);
  }
  [[gnu::always_inline]] static void dot4_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride,
                                               int64_t n_blocks, float out[4]) {
    dot_blocks<Int8, Q4Block, BlockQ4_0, 4>(w, x, x_stride, n_blocks, out);
  }
  [[gnu::always_inline]] static void gemm_q4_0x8(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                 int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_q4_0x8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                  out + t * out_stride, out_stride);
    });
  }
  [[gnu::always_inline]] static void gemm_q8_0x8(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                 int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_q8_0x8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                  out + t * out_stride, out_stride);
    });
  }
  template <typename Block>
  [[gnu::always_inline]] static void gemm_q5x8(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                               int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_q5x8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                out + t * out_stride, out_stride);
    });
  }
  [[gnu::always_inline]] static void gemm_iq4_nlx8(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                   int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_iq4_nlx8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                    out + t * out_stride, out_stride);
    });
  }
  [[gnu::always_inline]] static void gemm_iq4_xsx8(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                                   int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_iq4_xsx8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                    out + t * out_stride, out_stride);
    });
  }
  // gemm_q2_kx8 and gemm_q3_kx8: two tokens per tile, the codes of a block taking half
  // the registers.
  template <typename Block>
  [[gnu::always_inline]] static void gemm_low_bit_kx8(const Block* w, int64_t n_blocks, const ActBlockQ8* x,
                                                      int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<2>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_low_bit_kx8_tile<Int8, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride,
                                                       out_stride);
    });
  }
  // gemm_q4_kx8 (Unit = Q4KUnit), gemm_q5_kx8 (Q5KUnit) and gemm_q6_kx8 (Q6KUnit).
  // Kernels::dot_grid_rows: the contract's lanes four at a time.
  [[gnu::always_inline]] static void dot_grid_rows(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride,
                                                   int n_tokens, float* acc) {
    for (int t = 0; t < n_tokens; ++t)
      for (int r = 0; r < 8; ++r) {
        float32x4_t sums[4];
        for (int i = 0; i < 4; ++i)
          for (int u = 0; u < 4; ++u) {
            // Values 64 i + 16 u ..: block 2 i + u / 2, lanes 16 i + 4 u .. with step 4 i + u.
            const ActBlockQ8& xb = x[t * x_stride + 2 * i + u / 2];
            const int32x4_t dots = Int8::dot_lanes(vld1q_s8(codes[r].codes + 64 * i + 16 * u), vld1q_s8(xb.qs + 16 * (u % 2)));
            const float32x4_t products = vcvtq_f32_s32(dots), factors = vdupq_n_f32(codes[r].steps[4 * i + u] * xb.d);
            sums[u] = i == 0 ? vmulq_f32(products, factors) : vfmaq_f32(sums[u], products, factors);
          }
        float* a = acc + 16 * (8 * t + r);
        for (int u = 0; u < 4; ++u) vst1q_f32(a + 4 * u, vaddq_f32(vld1q_f32(a + 4 * u), sums[u]));
      }
  }
  template <class Unit>
  [[gnu::always_inline]] static void gemm_kx8(const typename Unit::Block* w, int64_t n_blocks, const ActBlockQ8* x,
                                              int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) __attribute__((always_inline)) {
      gemm_kx8_tile<Int8, Unit, decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride,
                                                     out + t * out_stride, out_stride);
    });
  }
};

using Widening = IntKernels<WideningInt8>;
using Dotprod = IntKernels<DotprodInt8>;

DSINFER_DOTPROD float dotprod_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  return Dotprod::dot_q8_0(w, x, n_blocks);
}
DSINFER_DOTPROD float dotprod_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  return Dotprod::dot_q4_0(w, x, n_blocks);
}
DSINFER_DOTPROD void dotprod4_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks,
                                   float out[4]) {
  Dotprod::dot4_q8_0(w, x, x_stride, n_blocks, out);
}
DSINFER_DOTPROD void dotprod4_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks,
                                   float out[4]) {
  Dotprod::dot4_q4_0(w, x, x_stride, n_blocks, out);
}
DSINFER_DOTPROD void dotprod_gemm_q4_0x8(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_q4_0x8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q8_0x8(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_q8_0x8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q4_kx8(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_kx8<Q4KUnit>(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q5_kx8(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_kx8<Q5KUnit>(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q5_0x8(const BlockQ5_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_q5x8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q5_1x8(const BlockQ5_1x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_q5x8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_iq4_nlx8(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                           int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_iq4_nlx8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_iq4_xsx8(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                           int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_iq4_xsx8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q2_kx8(const BlockQ2_Kx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_low_bit_kx8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_gemm_q3_kx8(const BlockQ3_Kx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_low_bit_kx8(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}
DSINFER_DOTPROD void dotprod_dot_grid_rows(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                                           float* acc) {
  Dotprod::dot_grid_rows(codes, x, x_stride, n_tokens, acc);
}
DSINFER_DOTPROD void dotprod_gemm_q6_kx8(const BlockQ6_Kx8* w, int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, int n_tokens, float* out, int64_t out_stride) {
  Dotprod::gemm_kx8<Q6KUnit>(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
}

// x ~= d * q with d = max|x| / 127 and q rounded to nearest even, as the generic kernel.
void quantize_act_q8(const float* x, ActBlockQ8* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* p = x + b * 32;
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(p + 4 * k);
      amax = vmaxq_f32(amax, vabsq_f32(v[k]));
    }
    const float d = vmaxvq_f32(amax) / 127.0f;
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    int32x4_t sum = vdupq_n_s32(0);
    int16x8_t q16[4];
    for (int k = 0; k < 4; ++k) {
      const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k], inv));
      const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k + 1], inv));
      sum = vaddq_s32(sum, vaddq_s32(q0, q1));
      q16[k] = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
    }
    vst1q_s8(out[b].qs, vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])));
    vst1q_s8(out[b].qs + 16, vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3])));
    out[b].d = d;
    out[b].sum = vaddvq_s32(sum);
  }
}

// Kernels::absorb_columns_q4_0 with SDOT: a line's sixteen columns in four registers, each
// column's low and high nibbles against four digits each.
DSINFER_DOTPROD void dotprod_absorb_columns_q4_0(float* out, const float* q, const uint8_t* head, int64_t nope,
                                                 int64_t rank) {
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const int64_t lines = nope / 8, block_bytes = 18 * nope;
  alignas(16) float a[kMaxAbsorbColumnsNope];
  ActBlockQ8 x[kMaxAbsorbColumnsNope / 32];
  auto four_digits = [](const int8_t* qs) {
    int32_t four;
    std::memcpy(&four, qs, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(four));
  };
  for (int64_t cb = 0; cb < rank / 32; ++cb) {
    const uint8_t* scales = head + cb * block_bytes;
    for (int64_t d = 0; d < nope; d += 4) {
      const float16x4_t s = vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(scales + 2 * d)));
      vst1q_f32(a + d, vmulq_f32(vld1q_f32(q + d), vcvt_f32_f16(s)));
    }
    quantize_act_q8(a, x, nope);
    for (int64_t g = 0; g < 2; ++g) {
      const uint8_t* group = scales + 2 * nope + g * lines * 64;
      float32x4_t sums[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
      for (int64_t b = 0; b < nope / 32; ++b) {
        int32x4_t dots[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int64_t m = 0; m < 4; ++m) {
          const uint8_t* line = group + (4 * b + m) * 64;
          const int8x16_t low = four_digits(x[b].qs + 8 * m), high = four_digits(x[b].qs + 8 * m + 4);
          for (int r = 0; r < 4; ++r) {
            const uint8x16_t codes = vld1q_u8(line + 16 * r);
            dots[r] = vdotq_s32(dots[r], vreinterpretq_s8_u8(vandq_u8(codes, low4)), low);
            dots[r] = vdotq_s32(dots[r], vreinterpretq_s8_u8(vshrq_n_u8(codes, 4)), high);
          }
        }
        const int32x4_t offset = vdupq_n_s32(8 * x[b].sum);
        for (int r = 0; r < 4; ++r)
          sums[r] = vfmaq_f32(sums[r], vcvtq_f32_s32(vsubq_s32(dots[r], offset)), vdupq_n_f32(x[b].d));
      }
      for (int r = 0; r < 4; ++r) vst1q_f32(out + 32 * cb + 16 * g + 4 * r, sums[r]);
    }
  }
}

// exp(x) as 2^n * e^r, n = round(x / ln 2): ln 2 split in two parts, e^r from a degree-7
// polynomial (Cephes' expf coefficients), 2^n in the exponent bits; x clamped so that 2^n
// stays a normal float (as the AVX2 table).
inline float32x4_t exp_f32x4(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.33654f)), vdupq_n_f32(88.37626f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t y = vdupq_n_f32(1.9875691500e-4f);
  y = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), y, r);
  y = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), y, r);
  y = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), y, r);
  y = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), y, r);
  y = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), y, r);
  y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), y, vmulq_f32(r, r));
  const int32x4_t pow2n = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(y, vreinterpretq_f32_s32(pow2n));
}

float exp_and_sum(float* v, int64_t n, float shift) {
  const float32x4_t s = vdupq_n_f32(shift);
  float32x4_t sum = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp_f32x4(vsubq_f32(vld1q_f32(v + i), s));
    vst1q_f32(v + i, e);
    sum = vaddq_f32(sum, e);
  }
  if (i < n) {
    // The last partial vector through a padded copy; its idle lanes add 0.
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::copy(v + i, v + n, tail);
    float e[4];
    vst1q_f32(e, exp_f32x4(vsubq_f32(vld1q_f32(tail), s)));
    for (int64_t j = 0; j < 4; ++j) e[j] = i + j < n ? e[j] : 0.0f;
    std::copy(e, e + (n - i), v + i);
    sum = vaddq_f32(sum, vld1q_f32(e));
  }
  return vaddvq_f32(sum);
}

// ---- Stored rows weighted by a query (absorbed attention's W_k^T q_nope) -------------

// Sixteen int8 codes as four float32x4 (exact small integers).
inline void widen16(int8x16_t codes, float32x4_t v[4]) {
  const int16x8_t low = vmovl_s8(vget_low_s8(codes)), high = vmovl_high_s8(codes);
  v[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(low)));
  v[1] = vcvtq_f32_s32(vmovl_high_s16(low));
  v[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(high)));
  v[3] = vcvtq_f32_s32(vmovl_high_s16(high));
}

// Codes 16 half .. 16 half + 15 of a block. Q4_0's first sixteen are the low nibbles.
inline void half_block_values(const BlockQ8_0& b, int half, float32x4_t v[4]) {
  widen16(vld1q_s8(b.qs + 16 * half), v);
}

inline void half_block_values(const BlockQ4_0& b, int half, float32x4_t v[4]) {
  const uint8x16_t bytes = vld1q_u8(b.qs);
  const uint8x16_t nibbles = half == 0 ? vandq_u8(bytes, vdupq_n_u8(0x0F)) : vshrq_n_u8(bytes, 4);
  widen16(vsubq_s8(vreinterpretq_s8_u8(nibbles), vdupq_n_s8(8)), v);
}

// Kernels::weighted_rows for NT weightings of the same rows, in four lanes: per column
// and row one fused multiply-add with the same rounded scale, rows in order from zero,
// so every weighting has the bits of its own call (and of the x86 tables); a half block's
// codes are widened once for all NT. A pass holds at most sixteen vectors of sums: 64
// columns for one weighting, 32 for two, 16 for three or four.
template <int NT, typename Block>
void weighted_rows_tile(float* const* out, const float* const* p, const Block* rows, int64_t row_stride,
                        int64_t n_rows, int64_t n_blocks) {
  constexpr int kHalves = NT == 1 ? 4 : NT == 2 ? 2 : 1;
  const int64_t n_halves = 2 * n_blocks;
  for (int64_t h0 = 0; h0 < n_halves; h0 += kHalves) {
    const int nh = static_cast<int>(std::min<int64_t>(kHalves, n_halves - h0));
    float32x4_t acc[NT][kHalves][4];
    for (auto& token : acc)
      for (auto& half : token)
        for (auto& a : half) a = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < n_rows; ++i) {
      const Block* row = rows + i * row_stride;
#pragma GCC unroll 4
      for (int h = 0; h < kHalves; ++h) {
        if (h >= nh) break;
        const Block& b = row[(h0 + h) / 2];
        float32x4_t v[4];
        half_block_values(b, static_cast<int>((h0 + h) % 2), v);
        const float d = half_to_float(b.d);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const float scale = p[t][i] * d;
          for (int q = 0; q < 4; ++q) acc[t][h][q] = vfmaq_n_f32(acc[t][h][q], v[q], scale);
        }
      }
    }
    for (int t = 0; t < NT; ++t)
      for (int h = 0; h < nh; ++h)
        for (int q = 0; q < 4; ++q) vst1q_f32(out[t] + 16 * (h0 + h) + 4 * q, acc[t][h][q]);
  }
}

template <typename Block>
void weighted_rows(float* out, const float* p, const Block* rows, int64_t row_stride, int64_t n_rows,
                   int64_t n_blocks) {
  weighted_rows_tile<1>(&out, &p, rows, row_stride, n_rows, n_blocks);
}

template <typename Block>
void weighted_rows_tokens(float* const* out, const float* const* p, int n_tokens, const Block* rows,
                          int64_t row_stride, int64_t n_rows, int64_t n_blocks) {
  for_token_tiles<kMaxWeightedRowsTokens>(n_tokens, [&](auto nt, int first) {
    weighted_rows_tile<decltype(nt)::value>(out + first, p + first, rows, row_stride, n_rows, n_blocks);
  });
}

// Attention tiles (kernels.h): every score and output value one fused multiply-add chain
// in index order, as the generic loops; a block of eight keys is two vectors.
void key_block_scores(const float* const* q, int nq, const float* keys_t, int64_t d, int64_t n_blocks, float scale,
                      float* scores, int64_t stride) {
  if (nq > 4) {  // four queries to a tile: the table takes kMaxScoreQueries
    key_block_scores(q, 4, keys_t, d, n_blocks, scale, scores, stride);
    return key_block_scores(q + 4, nq - 4, keys_t, d, n_blocks, scale, scores + 4 * stride, stride);
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float* block = keys_t + b * d * 8;
    float32x4_t acc[4][2];
    for (auto& row : acc) row[0] = row[1] = vdupq_n_f32(0.0f);
    for (int64_t c = 0; c < d; ++c) {
      const float32x4_t k0 = vld1q_f32(block + 8 * c), k1 = vld1q_f32(block + 8 * c + 4);
      for (int j = 0; j < nq; ++j) {
        acc[j][0] = vfmaq_n_f32(acc[j][0], k0, q[j][c]);
        acc[j][1] = vfmaq_n_f32(acc[j][1], k1, q[j][c]);
      }
    }
    for (int j = 0; j < nq; ++j) {
      vst1q_f32(scores + j * stride + 8 * b, vmulq_n_f32(acc[j][0], scale));
      vst1q_f32(scores + j * stride + 8 * b + 4, vmulq_n_f32(acc[j][1], scale));
    }
  }
}

void value_row_sums(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride, int64_t n_keys,
                    int64_t d, float* out, int64_t out_stride) {
  int64_t c = 0;
  for (; c + 4 <= d; c += 4) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t i = 0; i < n_keys; ++i) {
      const float32x4_t row = vld1q_f32(v + i * v_stride + c);
      for (int j = 0; j < nq; ++j) acc[j] = vfmaq_n_f32(acc[j], row, p[j * p_stride + i]);
    }
    for (int j = 0; j < nq; ++j) vst1q_f32(out + j * out_stride + c, acc[j]);
  }
  for (; c < d; ++c)
    for (int j = 0; j < nq; ++j) {
      float sum = 0.0f;
      for (int64_t i = 0; i < n_keys; ++i) sum = std::fma(p[j * p_stride + i], v[i * v_stride + c], sum);
      out[j * out_stride + c] = sum;
    }
}

// The float rows read side by side (one-token BF16 and F32 matmuls), the same in both tables.
void set_float_rows_beside(Kernels& k) {
  k.dot2_bf16 = dot2_bf16;
  k.dot_four_rows_bf16 = dot_four_rows_bf16;
  k.dot2_f32 = dot2_f32;
}

// The attention helpers that decode takes, the same in both tables.
void set_decode_attention_kernels(Kernels& k) {
  k.sequential_dots_heads8 = sequential_dots_heads8_neon;
  k.weighted_rows_q4_0 = weighted_rows<BlockQ4_0>;
  k.weighted_rows_q8_0 = weighted_rows<BlockQ8_0>;
  k.weighted_rows_tokens_q4_0 = weighted_rows_tokens<BlockQ4_0>;
  k.weighted_rows_tokens_q8_0 = weighted_rows_tokens<BlockQ8_0>;
  k.weighted_sums = weighted_sums_neon;
  k.weighted_sums_stored = weighted_sums_stored_neon;
  k.widen_stored = widen_stored_neon;
}

}  // namespace

const Kernels& neon_kernels() {
  static const Kernels table = [] {
    Kernels k{"neon",
                             dot_f32,
                             dot_bf16,
                             dot_f16,
                             dot_f8e4m3,
                             Widening::dot_q8_0,
                             Widening::dot_q4_0,
                             quantize_act_q8,
                             dot4_bf16,
                             Widening::dot4_q8_0,
                             Widening::dot4_q4_0,
                             Widening::gemm_q4_0x8,
                             Widening::gemm_q8_0x8,
                             Widening::gemm_kx8<Q4KUnit>,
                             Widening::gemm_kx8<Q5KUnit>,
                             Widening::gemm_kx8<Q6KUnit>,
                             gemm_fp4x8,
                             sequential_dots8_neon,
                             weighted_sum_neon,
                             key_block_scores,
                             value_row_sums,
                             exp_and_sum};
    k.gemm_q5_0x8 = Widening::gemm_q5x8<BlockQ5_0x8>;
    k.gemm_q5_1x8 = Widening::gemm_q5x8<BlockQ5_1x8>;
    k.gemm_iq4_nlx8 = Widening::gemm_iq4_nlx8;
    k.gemm_q2_kx8 = Widening::gemm_low_bit_kx8<BlockQ2_Kx8>;
    k.gemm_q3_kx8 = Widening::gemm_low_bit_kx8<BlockQ3_Kx8>;
    k.gemm_iq4_xsx8 = Widening::gemm_iq4_xsx8;
    k.dot_grid_rows = Widening::dot_grid_rows;
    k.decode_grid = decode_grid_codes;
    set_decode_attention_kernels(k);
    set_float_rows_beside(k);
    return k;
  }();
  return table;
}

const Kernels& neon_dotprod_kernels() {
  static const Kernels table = [] {
    Kernels k{"neon-dotprod", dot_f32,   dot_bf16,  dot_f16,       dot_f8e4m3,   dotprod_q8_0,
              dotprod_q4_0,   quantize_act_q8, dot4_bf16, dotprod4_q8_0, dotprod4_q4_0,
              dotprod_gemm_q4_0x8, dotprod_gemm_q8_0x8, dotprod_gemm_q4_kx8,
              dotprod_gemm_q5_kx8, dotprod_gemm_q6_kx8, gemm_fp4x8, sequential_dots8_neon, weighted_sum_neon,
              key_block_scores, value_row_sums, exp_and_sum};
    k.gemm_q5_0x8 = dotprod_gemm_q5_0x8;
    k.gemm_q5_1x8 = dotprod_gemm_q5_1x8;
    k.gemm_iq4_nlx8 = dotprod_gemm_iq4_nlx8;
    k.gemm_q2_kx8 = dotprod_gemm_q2_kx8;
    k.gemm_q3_kx8 = dotprod_gemm_q3_kx8;
    k.gemm_iq4_xsx8 = dotprod_gemm_iq4_xsx8;
    k.absorb_columns_q4_0 = dotprod_absorb_columns_q4_0;
    k.dot_grid_rows = dotprod_dot_grid_rows;
    k.decode_grid = decode_grid_codes;
    set_decode_attention_kernels(k);
    set_float_rows_beside(k);
    return k;
  }();
  return table;
}

}  // namespace dsinfer::cpu

#endif  // __aarch64__
