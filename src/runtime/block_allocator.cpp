#include "runtime/block_allocator.h"

#include <cassert>

namespace dsinfer {
namespace {

// splitmix64's finaliser: every input bit affects every output bit.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

BlockAllocator::BlockAllocator(int64_t blocks)
    : refs_(static_cast<size_t>(blocks), 0),
      hash_of_(static_cast<size_t>(blocks)),
      evictable_pos_(static_cast<size_t>(blocks)) {
  // Hand out low ids first.
  for (int64_t b = blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

std::optional<int32_t> BlockAllocator::allocate() {
  int32_t block;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (!evictable_.empty()) {
    block = evictable_.front();
    evictable_.pop_front();
    forget(block);
  } else {
    return std::nullopt;
  }
  refs_[block] = 1;
  return block;
}

void BlockAllocator::retain(int32_t block) {
  if (refs_[block]++ == 0) evictable_.erase(evictable_pos_[block]);  // only cached blocks sit at zero refs
}

void BlockAllocator::release(int32_t block) {
  assert(refs_[block] > 0);
  if (--refs_[block] > 0) return;
  if (hash_of_[block]) {
    evictable_pos_[block] = evictable_.insert(evictable_.end(), block);
  } else {
    free_.push_back(block);
  }
}

BlockAllocator::Hash BlockAllocator::chain(Hash parent, std::span<const int32_t> block_tokens) {
  Hash h = mix(parent ^ 0x5bd1e995ULL);
  for (int32_t t : block_tokens) h = mix(h ^ static_cast<uint32_t>(t));
  return h;
}

std::optional<int32_t> BlockAllocator::lookup(Hash hash) {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  retain(it->second);
  return it->second;
}

void BlockAllocator::publish(int32_t block, Hash hash) {
  assert(refs_[block] > 0);
  if (hash_of_[block] || cached_.contains(hash)) return;
  cached_.emplace(hash, block);
  hash_of_[block] = hash;
}

void BlockAllocator::forget(int32_t block) {
  cached_.erase(*hash_of_[block]);
  hash_of_[block].reset();
}

}  // namespace dsinfer
