// A persistent pool of worker threads for data-parallel loops. The calling thread works
// too, so a pool of N threads starts N-1 workers. Between jobs the workers spin briefly
// before sleeping: a decode step runs hundreds of short parallel loops, and waking a
// sleeping thread costs more than most of them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/function_ref.h"

namespace dsinfer {

// Chunks [0, chunks) shared by `threads` threads: each starts on its own contiguous run
// and walks it forward, so the hardware prefetchers follow one stream per thread (with
// one shared counter the threads' chunks interleaved, and each chunk restarted a
// thread's stream); a thread done with its run takes chunks from the back of the
// others', so a slow thread ends up with less. chunks < 2^32.
class ChunkQueue {
 public:
  ChunkQueue(int64_t chunks, int threads);
  // The next chunk for `thread`, or -1 when none is left.
  int64_t take(int thread);

 private:
  // Both ends of a run in one word, so a take is one compare-and-swap.
  struct alignas(64) Run {
    std::atomic<uint64_t> ends;  // front in the low 32 bits, back (one past the last) in the high
  };
  static int64_t take_from(Run& run, bool front);

  // A decode step builds a queue per parallel loop: up to kInlineRuns threads' runs live
  // in the queue itself rather than on the heap.
  static constexpr int kInlineRuns = 4;
  int threads_;
  Run inline_runs_[kInlineRuns];
  std::unique_ptr<Run[]> heap_runs_;
  Run* runs_;
};

// One turn of a wait loop, the spins-th. The first turns stay on the core with a pause
// hint, so the thread sees the flag it waits for within a few hundred cycles; a yield is a
// system call, near a microsecond in a VM, and at the end of a decode step's loops the
// caller waited for it (docs/benchmarks.md, CPU backend, session 17). Later turns yield,
// so that an oversubscribed machine (more runnable threads than cores) runs the thread
// being waited for.
void spin_once(int spins);

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // How long an idle worker spins for the next job before it sleeps. Two pools that take
  // turns on the same cores (a benchmark's bandwidth probe and the model's pool) wait at
  // least this long between turns, or one pool's spinning workers take a core from the other's loops.
  static constexpr std::chrono::milliseconds kSpinBeforeSleep{5};

  // Calls fn(thread_index, begin, end) on disjoint contiguous ranges covering [0, n),
  // one range per thread, and returns when all are done. Not reentrant.
  void parallel_for(int64_t n, FunctionRef<void(int thread, int64_t begin, int64_t end)> fn);

  // Like parallel_for, but each thread's range is cut into up to chunks_per_thread chunks,
  // which the threads take from a ChunkQueue until none is left, so a thread that runs
  // slower (another process on its core, colder caches, costlier indices) ends up with
  // less of the work. The chunks shrink towards the back of each range, where a thread
  // done with its own takes from another's, so the threads finish within a small chunk
  // of each other. fn may be called several times per thread; a pool of one thread gets
  // the whole range in one call.
  void parallel_for_dynamic(int64_t n, int64_t chunks_per_thread,
                            FunctionRef<void(int thread, int64_t begin, int64_t end)> fn);

  // Runs fn(thread_index) once on every thread.
  void run_on_all(FunctionRef<void(int thread)> fn);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  const FunctionRef<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace dsinfer
