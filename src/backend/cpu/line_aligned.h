// Scratch vectors whose data starts on a 64-byte cache line. The float-activation
// kernels (FP8, BF16) load 64 bytes of activations per multiply-add; from a buffer that
// malloc placed 16 or 48 bytes into a line every such load spans two lines, which cost
// the FP8 kernel 7-12% in cache (docs/benchmarks.md, DeepSeek-V4 session 15).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace dsinfer::cpu {

inline constexpr std::size_t kCacheLineBytes = 64;

template <typename T>
struct LineAlignedAllocator {
  using value_type = T;
  LineAlignedAllocator() = default;
  template <typename U>
  LineAlignedAllocator(const LineAlignedAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kCacheLineBytes})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{kCacheLineBytes}); }
  friend bool operator==(const LineAlignedAllocator&, const LineAlignedAllocator&) { return true; }
};

using LineAlignedFloats = std::vector<float, LineAlignedAllocator<float>>;

}  // namespace dsinfer::cpu
