// The paged cache's block bookkeeping: reference counts, prefix reuse, and eviction of
// cached blocks only when no free block is left, oldest released first.
#include <vector>

#include <gtest/gtest.h>

#include "runtime/block_allocator.h"

namespace dsinfer {
namespace {

TEST(BlockAllocator, HandsOutEveryBlockOnceThenRunsDry) {
  BlockAllocator a(3);
  std::vector<int32_t> got;
  for (int i = 0; i < 3; ++i) {
    auto b = a.allocate();
    ASSERT_TRUE(b);
    got.push_back(*b);
  }
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_FALSE(a.allocate());
  EXPECT_EQ(a.referenced(), 3);
  a.release(1);
  EXPECT_EQ(a.available(), 1);
  EXPECT_EQ(a.allocate(), 1);
}

TEST(BlockAllocator, SharedBlockIsFreedByItsLastReference) {
  BlockAllocator a(2);
  const int32_t b = *a.allocate();
  a.retain(b);
  a.release(b);
  EXPECT_EQ(a.available(), 1);
  a.release(b);
  EXPECT_EQ(a.available(), 2);
}

TEST(BlockAllocator, ChainHashDependsOnEveryTokenAndOnThePrefix) {
  const int32_t x[] = {1, 2, 3}, y[] = {1, 2, 4}, z[] = {3, 2, 1};
  const auto hx = BlockAllocator::chain(0, x);
  EXPECT_NE(hx, BlockAllocator::chain(0, y));
  EXPECT_NE(hx, BlockAllocator::chain(0, z));
  EXPECT_NE(BlockAllocator::chain(hx, x), BlockAllocator::chain(BlockAllocator::chain(0, y), x));
  EXPECT_EQ(hx, BlockAllocator::chain(0, x));
}

TEST(BlockAllocator, PublishedBlockIsFoundWhileReferencedAndAfterRelease) {
  BlockAllocator a(2);
  const int32_t b = *a.allocate();
  a.publish(b, 42);
  EXPECT_FALSE(a.lookup(7));
  EXPECT_EQ(a.lookup(42), b);  // now two references
  a.release(b);
  a.release(b);
  EXPECT_EQ(a.evictable(), 1);
  EXPECT_EQ(a.referenced(), 0);
  EXPECT_EQ(a.lookup(42), b);  // revived from the evictable list
  EXPECT_EQ(a.evictable(), 0);
  EXPECT_EQ(a.referenced(), 1);
}

TEST(BlockAllocator, EvictsCachedBlocksOnlyWhenNothingIsFreeOldestFirst) {
  BlockAllocator a(3);
  const int32_t b0 = *a.allocate(), b1 = *a.allocate();
  a.publish(b0, 100);
  a.publish(b1, 101);
  a.release(b0);  // released first: evicted first
  a.release(b1);
  EXPECT_EQ(a.allocate(), 2);  // the free block before any cached one
  EXPECT_EQ(a.allocate(), b0);
  EXPECT_FALSE(a.lookup(100));
  EXPECT_EQ(a.lookup(101), b1);
  EXPECT_FALSE(a.allocate());
}

}  // namespace
}  // namespace dsinfer
