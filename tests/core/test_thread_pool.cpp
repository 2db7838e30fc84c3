#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <vector>

#include "core/thread_pool.h"

namespace dsinfer {
namespace {

// Every index of [0, n) is handed out exactly once, in at most chunks_per_thread calls
// per thread's range (one call for the whole range on a pool of one thread), each to a
// valid thread index.
void expect_each_index_once(ThreadPool& pool, int64_t n, int64_t chunks_per_thread) {
  std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
  std::mutex mutex;
  std::set<int> threads;
  int64_t calls = 0;
  pool.parallel_for_dynamic(n, chunks_per_thread, [&](int thread, int64_t begin, int64_t end) {
    EXPECT_LT(begin, end);
    for (int64_t i = begin; i < end; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
    std::lock_guard lock(mutex);
    threads.insert(thread);
    ++calls;
  });
  const int64_t most_calls = pool.size() == 1 ? 1 : std::max<int64_t>(chunks_per_thread, 1) * pool.size();
  EXPECT_LE(calls, n == 0 ? 0 : most_calls) << n << " " << chunks_per_thread;
  if (n > 0) EXPECT_GE(calls, 1);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "index " << i << " of " << n;
  for (int t : threads) EXPECT_TRUE(t >= 0 && t < pool.size()) << t;
}

TEST(ThreadPool, DynamicLoopCoversEveryIndexOnce) {
  for (int size : {1, 2, 3}) {
    ThreadPool pool(size);
    for (int64_t n : {0, 1, 7, 64, 1001})
      for (int64_t chunks_per_thread : {0, 1, 3, 64, 5000}) expect_each_index_once(pool, n, chunks_per_thread);
  }
}

// A thread that is held up leaves its share of the chunks to the others.
TEST(ThreadPool, DynamicLoopGivesASlowThreadLessWork) {
  ThreadPool pool(2);
  std::atomic<int64_t> done_by[2] = {0, 0};
  pool.parallel_for_dynamic(200, /*chunks_per_thread=*/100, [&](int thread, int64_t begin, int64_t end) {
    if (thread == 1) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    done_by[thread] += end - begin;
  });
  EXPECT_EQ(done_by[0] + done_by[1], 200);
  EXPECT_GT(done_by[0].load(), done_by[1].load());
}

// Each thread starts on its own run of chunks and walks it forward (one stream for the
// hardware prefetchers); chunks taken from another's run come from its back. Whatever the
// timing, a thread's own chunks are a prefix of its run in order, the others' a suffix
// taken backwards.
TEST(ThreadPool, DynamicLoopWalksEachRunForwardAndStealsFromItsBack) {
  constexpr int64_t kN = 4000, kChunksPerThread = 20;
  for (int round = 0; round < 20; ++round) {
    ThreadPool pool(2);
    std::vector<std::pair<int64_t, int64_t>> taken[2];
    pool.parallel_for_dynamic(kN, kChunksPerThread, [&](int thread, int64_t begin, int64_t end) {
      taken[thread].push_back({begin, end});
      if (thread == 1 && round % 2) std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
    for (int run = 0; run < 2; ++run) {
      const int64_t first = run * kN / 2, last = first + kN / 2;
      int64_t front = first, back = last;
      for (int thread = 0; thread < 2; ++thread)
        for (auto [b, e] : taken[thread]) {
          if (b < first || b >= last) continue;
          if (thread == run) {
            EXPECT_EQ(b, front) << "owner of run " << run << ", round " << round;
            front = e;
          } else {
            EXPECT_EQ(e, back) << "thief of run " << run << ", round " << round;
            back = b;
          }
        }
      EXPECT_EQ(front, back) << "run " << run << " covered once, round " << round;
    }
  }
}

// The chunks of a run shrink towards its back, where the threads meet: the last of 20 is
// 1/210 of the run (equal chunks would leave a thread idle for up to 1/20 of it).
TEST(ThreadPool, DynamicLoopChunksShrinkTowardsTheBackOfEachRun) {
  ThreadPool pool(2);
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for_dynamic(4200, /*chunks_per_thread=*/20, [&](int, int64_t begin, int64_t end) {
    std::lock_guard lock(mutex);
    chunks.push_back({begin, end});
  });
  std::sort(chunks.begin(), chunks.end());
  ASSERT_EQ(chunks.size(), 40u);
  for (size_t run = 0; run < 2; ++run) {
    EXPECT_EQ(chunks[run * 20].second - chunks[run * 20].first, 200);      // 20 / 210 of 2100
    EXPECT_EQ(chunks[run * 20 + 19].second - chunks[run * 20 + 19].first, 10);  // 1 / 210
    for (size_t j = 1; j < 20; ++j)
      EXPECT_LT(chunks[run * 20 + j].second - chunks[run * 20 + j].first,
                chunks[run * 20 + j - 1].second - chunks[run * 20 + j - 1].first);
  }
}

TEST(ThreadPool, StaticLoopGivesEachThreadOneRange) {
  ThreadPool pool(3);
  std::vector<std::pair<int64_t, int64_t>> ranges(3, {-1, -1});
  pool.parallel_for(10, [&](int thread, int64_t begin, int64_t end) { ranges[static_cast<size_t>(thread)] = {begin, end}; });
  EXPECT_EQ(ranges[0], (std::pair<int64_t, int64_t>{0, 3}));
  EXPECT_EQ(ranges[1], (std::pair<int64_t, int64_t>{3, 6}));
  EXPECT_EQ(ranges[2], (std::pair<int64_t, int64_t>{6, 10}));
}

}  // namespace
}  // namespace dsinfer
