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

ChunkQueue::ChunkQueue(int64_t chunks, int threads) : runs_(static_cast<size_t>(std::max(threads, 1))) {
  const auto n = static_cast<int64_t>(runs_.size());
  for (int64_t t = 0; t < n; ++t) {
    const auto front = static_cast<uint64_t>(chunks * t / n), back = static_cast<uint64_t>(chunks * (t + 1) / n);
    runs_[static_cast<size_t>(t)].ends.store(front | back << 32, std::memory_order_relaxed);
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
  const size_t n = runs_.size();
  for (size_t k = 0; k < n; ++k) {
    const int64_t chunk = take_from(runs_[(static_cast<size_t>(thread) + k) % n], k == 0);
    if (chunk >= 0) return chunk;
  }
  return -1;
}

void ThreadPool::parallel_for_dynamic(int64_t n, int64_t chunks_per_thread,
                                      const std::function<void(int, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t chunk = std::max<int64_t>(1, n / (std::max<int64_t>(chunks_per_thread, 1) * size()));
  if (size() == 1 || n <= chunk) {
    fn(0, 0, n);
    return;
  }
  ChunkQueue queue((n + chunk - 1) / chunk, size());
  run_on_all([&](int thread) {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) fn(thread, c * chunk, std::min((c + 1) * chunk, n));
  });
}

}  // namespace dsinfer
