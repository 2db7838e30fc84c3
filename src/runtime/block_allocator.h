// Bookkeeping of the paged latent cache's blocks: which are free, how many sequences
// reference each, and which full blocks of prompt rows can be reused by a later request
// with the same prefix (prefix caching). A block nobody references but that holds a
// cached prefix stays reusable until a fresh block is needed and none is free; then the
// least recently released one is evicted.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace dsinfer {

class BlockAllocator {
 public:
  using Hash = uint64_t;

  explicit BlockAllocator(int64_t blocks);

  // A block for new rows, referenced once; nullopt when every block is in use.
  std::optional<int32_t> allocate();
  void retain(int32_t block);
  // Drops one reference; at zero the block becomes free, or evictable if it is cached.
  void release(int32_t block);

  // Identity of a block's contents: the hash of every token up to and including it
  // (positions matter, so the parent's hash is chained in).
  static Hash chain(Hash parent, std::span<const int32_t> block_tokens);
  // The cached block holding `hash`, now referenced once more by the caller.
  std::optional<int32_t> lookup(Hash hash);
  // Makes a full, referenced block reusable under `hash` (no-op if that hash is cached).
  void publish(int32_t block, Hash hash);

  int64_t total() const { return static_cast<int64_t>(refs_.size()); }
  // Blocks allocate() can still hand out: free plus evictable.
  int64_t available() const { return static_cast<int64_t>(free_.size() + evictable_.size()); }
  int64_t referenced() const { return total() - available(); }
  int64_t evictable() const { return static_cast<int64_t>(evictable_.size()); }

 private:
  void forget(int32_t block);

  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;
  std::vector<std::optional<Hash>> hash_of_;                 // per block, when cached
  std::unordered_map<Hash, int32_t> cached_;                 // hash -> block
  std::list<int32_t> evictable_;                             // unreferenced cached blocks, oldest first
  std::vector<std::list<int32_t>::iterator> evictable_pos_;  // valid while the block is evictable
};

}  // namespace dsinfer
