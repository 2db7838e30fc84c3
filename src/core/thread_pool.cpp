#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace dsinfer {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(threads, 1); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (true) {
    // Spin for the next job, then sleep until one is posted. Yielding while spinning keeps
    // an oversubscribed machine (more runnable threads than cores) from burning the time
    // slice the thread being waited for needs. 5 ms outlasts the serial stretches between
    // a decode step's parallel loops: with 200 us the worker fell asleep about ten times
    // per B token (2,561 futex calls in a 64-token bench against 49), and the caller then
    // waited for it to wake (docs/benchmarks.md, session 8).
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until) {
      std::this_thread::yield();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    (*job_)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run_on_all(const std::function<void(int thread)>& fn) {
  if (workers_.empty()) {
    fn(0);
    return;
  }
  job_ = &fn;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  fn(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins > 64) std::this_thread::yield();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t threads = std::min<int64_t>(size(), n);
  if (threads == 1) {
    fn(0, 0, n);
    return;
  }
  run_on_all([&](int thread) {
    if (thread >= threads) return;
    const int64_t begin = n * thread / threads;
    const int64_t end = n * (thread + 1) / threads;
    fn(thread, begin, end);
  });
}

namespace {

// A thread's share of the chunks of a parallel_for_dynamic: its owner takes them from the
// front, the others from the back once their own are done. Both ends in one word, so a
// take is one compare-and-swap.
struct alignas(64) ChunkRange {
  std::atomic<uint64_t> ends;  // front in the low 32 bits, back (one past the last) in the high

  static uint64_t pack(uint64_t front, uint64_t back) { return front | back << 32; }
  // The chunk taken, or -1 when none is left.
  int64_t take(bool from_front) {
    uint64_t now = ends.load(std::memory_order_relaxed);
    while (true) {
      const uint64_t front = now & 0xFFFFFFFFu, back = now >> 32;
      if (front >= back) return -1;
      const uint64_t next = from_front ? pack(front + 1, back) : pack(front, back - 1);
      if (ends.compare_exchange_weak(now, next, std::memory_order_relaxed))
        return static_cast<int64_t>(from_front ? front : back - 1);
    }
  }
};

}  // namespace

void ThreadPool::parallel_for_dynamic(int64_t n, int64_t chunks_per_thread,
                                      const std::function<void(int, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t chunk = std::max<int64_t>(1, n / (std::max<int64_t>(chunks_per_thread, 1) * size()));
  if (size() == 1 || n <= chunk) {
    fn(0, 0, n);
    return;
  }
  // Each thread starts on a contiguous run of chunks and walks it forward, so the
  // hardware prefetchers follow one stream per thread (taking chunks from one shared
  // counter restarted them at every chunk: FP8 matrices of 1-4 MB streamed at ~70% of the
  // probe); a thread done early takes chunks from the back of another's run.
  const int64_t chunks = (n + chunk - 1) / chunk, threads = size();
  std::vector<ChunkRange> ranges(static_cast<size_t>(threads));
  for (int64_t t = 0; t < threads; ++t)
    ranges[t].ends.store(ChunkRange::pack(chunks * t / threads, chunks * (t + 1) / threads), std::memory_order_relaxed);
  run_on_all([&](int thread) {
    for (int64_t k = 0; k < threads; ++k) {
      ChunkRange& range = ranges[(thread + k) % threads];
      for (int64_t c = range.take(k == 0); c >= 0; c = range.take(k == 0))
        fn(thread, c * chunk, std::min((c + 1) * chunk, n));
    }
  });
}

}  // namespace dsinfer
