#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace dsinfer {

void spin_once(int spins) {
  constexpr int kPausesBeforeYielding = 4096;  // tens of microseconds
  if (spins >= kPausesBeforeYielding) {
    std::this_thread::yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

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
    // Spin for the next job (spin_once), then sleep until one is posted. 5 ms outlasts the
    // serial stretches between a decode step's parallel loops: with 200 us the worker fell
    // asleep about ten times per B token (2,561 futex calls in a 64-token bench against
    // 49), and the caller then waited for it to wake (docs/benchmarks.md, session 8).
    const auto spin_until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (int spins = 0;
         generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until; ++spins)
      spin_once(spins);
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

void ThreadPool::run_on_all(FunctionRef<void(int thread)> fn) {
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
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) spin_once(spins);
}

void ThreadPool::parallel_for(int64_t n, FunctionRef<void(int, int64_t, int64_t)> fn) {
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

ChunkQueue::ChunkQueue(int64_t chunks, int threads)
    : threads_(std::max(threads, 1)),
      heap_runs_(threads_ > kInlineRuns ? std::make_unique<Run[]>(static_cast<size_t>(threads_)) : nullptr),
      runs_(heap_runs_ ? heap_runs_.get() : inline_runs_) {
  const int64_t n = threads_;
  for (int64_t t = 0; t < n; ++t) {
    const auto front = static_cast<uint64_t>(chunks * t / n), back = static_cast<uint64_t>(chunks * (t + 1) / n);
    runs_[t].ends.store(front | back << 32, std::memory_order_relaxed);
  }
}

int64_t ChunkQueue::take_from(Run& run, bool front) {
  uint64_t now = run.ends.load(std::memory_order_relaxed);
  while (true) {
    const uint64_t first = now & 0xFFFFFFFFu, end = now >> 32;
    if (first >= end) return -1;
    const uint64_t next = front ? (first + 1) | end << 32 : first | (end - 1) << 32;
    if (run.ends.compare_exchange_weak(now, next, std::memory_order_relaxed))
      return static_cast<int64_t>(front ? first : end - 1);
  }
}

int64_t ChunkQueue::take(int thread) {
  for (int k = 0; k < threads_; ++k) {
    const int64_t chunk = take_from(runs_[(thread + k) % threads_], k == 0);
    if (chunk >= 0) return chunk;
  }
  return -1;
}

void ThreadPool::parallel_for_dynamic(int64_t n, int64_t chunks_per_thread,
                                      FunctionRef<void(int, int64_t, int64_t)> fn) {
  if (n <= 0) return;
  const int64_t threads = size();
  const int64_t per_run = std::clamp<int64_t>(n / threads, 1, std::max<int64_t>(chunks_per_thread, 1));
  if (threads == 1 || n == 1) {
    fn(0, 0, n);
    return;
  }
  // Chunk j of a run of per_run chunks is per_run - j units long: the last is 1 / (the
  // triangular number of per_run) of the run, against 1 / per_run for equal chunks.
  auto units_before = [&](int64_t j) { return j * per_run - j * (j - 1) / 2; };
  const int64_t run_units = units_before(per_run);
  ChunkQueue queue(threads * per_run, size());
  run_on_all([&](int thread) {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) {
      const int64_t run = c / per_run, j = c % per_run;
      const int64_t run_begin = n * run / threads, run_length = n * (run + 1) / threads - run_begin;
      const int64_t begin = run_begin + run_length * units_before(j) / run_units;
      const int64_t end = run_begin + run_length * units_before(j + 1) / run_units;
      if (begin < end) fn(thread, begin, end);
    }
  });
}

}  // namespace dsinfer
