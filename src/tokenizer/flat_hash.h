// Open-addressing hash tables for the tokenizer's hot lookups (vocabulary strings, merge
// pairs, the per-call word cache). std::unordered_map allocates a node per entry and
// chases a pointer per probe; with 128k vocabulary entries and 127k merges that costs
// both load time and encode speed, so these keep entries in one flat array.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  return x;
}

// A fast non-cryptographic hash of a byte string (8 bytes per step).
inline uint64_t hash_bytes(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xC2B2AE3D27D4EB4FULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ mix64(w)) * 0x9FB21C651E98DF25ULL;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    // The last 1..7 bytes without a variable-length copy: two overlapping loads.
    uint64_t w;
    if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w = uint64_t(a) << 32 | b;
    } else {
      const auto* u = reinterpret_cast<const unsigned char*>(p);
      w = uint64_t(u[0]) << 16 | uint64_t(u[n >> 1]) << 8 | u[n - 1];
    }
    h = (h ^ mix64(w ^ (uint64_t(n) << 59))) * 0x9FB21C651E98DF25ULL;
  }
  return mix64(h);
}

inline size_t table_capacity_for(size_t entries) {
  size_t cap = 16;
  while (cap < entries * 2) cap <<= 1;  // load factor <= 0.5
  return cap;
}

// String -> uint32 map, filled once and then read. Keys live in one arena.
class FlatStringMap {
 public:
  static constexpr uint32_t kMissing = UINT32_MAX;

  void reserve(size_t entries) {
    slots_.assign(table_capacity_for(entries), Slot{});
    mask_ = slots_.size() - 1;
  }

  // Inserts or overwrites; returns true if the key was new.
  bool insert(std::string_view key, uint32_t value) { return insert(key, hash_bytes(key), value); }
  // The same with hash_bytes(key) already computed.
  bool insert(std::string_view key, uint64_t h, uint32_t value) {
    if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) grow();
    size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.length == kEmpty) {
        s = Slot{uint32_t(h >> 32), uint32_t(arena_.size()), uint32_t(key.size()), value};
        arena_.append(key);
        ++size_;
        return true;
      }
      if (s.tag == uint32_t(h >> 32) && key_of(s) == key) {
        s.value = value;
        return false;
      }
      i = (i + 1) & mask_;
    }
  }

  uint32_t find(std::string_view key) const { return find(key, hash_bytes(key)); }
  uint32_t find(std::string_view key, uint64_t h) const {
    if (slots_.empty()) return kMissing;
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.length == kEmpty) return kMissing;
      if (s.tag == uint32_t(h >> 32) && key_of(s) == key) return s.value;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return size_; }

  // Loading 128k entries is bound by cache misses on random slots: callers that know the
  // next keys prefetch their slots (and, one step later, the key text a slot points to).
  void prefetch_slot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  void prefetch_key(uint64_t h) const {
    if (slots_.empty()) return;
    const Slot& s = slots_[h & mask_];
    if (s.length != kEmpty) __builtin_prefetch(arena_.data() + s.offset);
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint32_t tag = 0;
    uint32_t offset = 0;
    uint32_t length = kEmpty;
    uint32_t value = 0;
  };
  std::string_view key_of(const Slot& s) const { return std::string_view(arena_).substr(s.offset, s.length); }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(table_capacity_for(size_ + 1 > 8 ? size_ * 2 : 16), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.length == kEmpty) continue;
      size_t i = hash_bytes(key_of(s)) & mask_;
      while (slots_[i].length != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// (left id, right id) -> (merge rank, merged id), filled once and then read.
class MergeTable {
 public:
  struct Merge {
    uint32_t rank;
    uint32_t new_id;
  };

  void reserve(size_t entries) {
    slots_.assign(table_capacity_for(entries), Slot{});
    mask_ = slots_.size() - 1;
  }

  // A later merge of the same pair replaces an earlier one, as in HF (a map built from
  // the list in order).
  void insert(uint32_t left, uint32_t right, Merge merge) {
    if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t key = pack(left, right);
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) ++size_;
    slots_[i] = Slot{key, merge};
  }

  void prefetch(uint32_t left, uint32_t right) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[mix64(pack(left, right)) & mask_]);
  }

  // nullptr when the pair never merges.
  const Merge* find(uint32_t left, uint32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    size_t i = mix64(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t pack(uint32_t left, uint32_t right) { return uint64_t(left) << 32 | right; }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(table_capacity_for(size_ + 1 > 8 ? size_ * 2 : 16), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix64(s.key) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace dsinfer
