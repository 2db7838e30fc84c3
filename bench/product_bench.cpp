// One-token product benchmark: the time of out = x @ W^T for one token over a weight of
// one shape and format, read from memory as decode reads it. The weight is prepared as
// the CPU backend prepares it (packed, or copied to huge pages), in enough copies that
// each product reads one no longer in cache; the products take the copies in turn.
//
//   product_bench --dtype q8_0|q4_0|f8_e4m3|fp4_e2m1|bf16 --rows N --cols K [--threads T]
//                 [--copies C] [--reps R] [--isa NAME]
//
// Prints the median time per product, and the weight's bytes over it (median and the
// 10th-percentile time's), as GB/s.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/packed_weight.h"
#include "core/dtype.h"
#include "core/quant_blocks.h"
#include "core/thread_pool.h"

namespace {

using namespace dsinfer;
using namespace dsinfer::cpu;

struct Options {
  DType dtype = DType::kQ8_0;
  int64_t rows = 0, cols = 0;
  int threads = 2, copies = 64, reps = 2000;
  std::string isa;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "product_bench: %s\nusage: product_bench --dtype q8_0|q4_0|f8_e4m3|fp4_e2m1|bf16 --rows N --cols K "
               "[--threads T] [--copies C] [--reps R] [--isa NAME]\n",
               why);
  std::exit(2);
}

std::optional<DType> dtype_named(std::string_view name) {
  for (DType d : {DType::kQ8_0, DType::kQ4_0, DType::kF8E4M3, DType::kFP4E2M1, DType::kBF16})
    if (dtype_name(d) == name) return d;
  return std::nullopt;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("every option takes a value");
    const char* value = argv[i + 1];
    auto number = [&](int64_t lowest) {
      char* end = nullptr;
      const long long n = std::strtoll(value, &end, 10);
      if (*value == '\0' || *end != '\0' || n < lowest) usage("a count is not a whole number in range");
      return static_cast<int64_t>(n);
    };
    if (flag == "--dtype") {
      const auto d = dtype_named(value);
      if (!d) usage("--dtype must be q8_0, q4_0, f8_e4m3, fp4_e2m1 or bf16");
      o.dtype = *d;
    } else if (flag == "--rows") {
      o.rows = number(8);
    } else if (flag == "--cols") {
      o.cols = number(128);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(number(1));
    } else if (flag == "--copies") {
      o.copies = static_cast<int>(number(1));
    } else if (flag == "--reps") {
      o.reps = static_cast<int>(number(1));
    } else if (flag == "--isa") {
      o.isa = value;
    } else {
      usage("unknown option");
    }
  }
  if (o.rows == 0 || o.cols == 0) usage("--rows and --cols are required");
  if (o.rows % 8 != 0 || o.cols % 128 != 0) usage("--rows must be a multiple of 8 and --cols of 128");
  return o;
}

// The weight's stored bytes (and FP8's block scales), from random values.
struct StoredWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  WeightView view;
};

StoredWeight stored_weight(const Options& o) {
  std::mt19937 rng(1);
  std::vector<float> values(static_cast<size_t>(o.rows * o.cols));
  for (float& v : values) v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  StoredWeight w;
  w.bytes.resize(dtype_bytes(o.dtype, o.rows * o.cols));
  if (o.dtype == DType::kF8E4M3) {
    // One scale per 128 x 128 block, as the released checkpoints store them.
    w.scales.assign(static_cast<size_t>((o.rows / 128 + 1) * (o.cols / 128)), 1.0f / 64);
    // Codes of exponent 0 (zeros, subnormals) are rare in trained weights, and a row that
    // holds one takes a slower path: magnitudes 1 to 64 (1/64 to 1 once scaled) are all
    // normal codes. Uniform values in [-64, 64] would put such a code in about 40% of rows.
    for (size_t i = 0; i < values.size(); ++i)
      w.bytes[i] = f32_to_f8e4m3(std::copysign(1.0f + 63.0f * std::fabs(values[i]), values[i]));
    w.view.scales = BlockScales{.data = w.scales.data(), .block_rows = 128, .block_cols = 128};
  } else if (o.dtype == DType::kFP4E2M1) {
    // Random codes, two per byte, and one power-of-two scale per 32 values (UE8M0, as V4's
    // experts store them).
    for (uint8_t& b : w.bytes) b = static_cast<uint8_t>(rng());
    w.scales.resize(static_cast<size_t>(o.rows * (o.cols / 32)));
    for (float& scale : w.scales) scale = std::ldexp(1.0f, static_cast<int>(rng() % 8) - 8);
    w.view.scales = BlockScales{.data = w.scales.data(), .block_rows = 1, .block_cols = 32, .stored_bytes = 1};
  } else if (o.dtype == DType::kBF16) {
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t h = f32_to_bf16(values[i]);
      w.bytes[2 * i] = static_cast<uint8_t>(h);
      w.bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
  } else {
    quantize_blocks(o.dtype, values.data(), w.bytes.data(), values.size());
  }
  w.view.dtype = o.dtype;
  w.view.shape = {o.rows, o.cols};
  w.view.data = w.bytes.data();
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Kernels* k = select_kernels(o.isa);
  if (!k) usage("--isa names a table this CPU cannot run");
  ThreadPool pool(o.threads);
  PackArena arena;
  const StoredWeight stored = stored_weight(o);
  // Each copy as a product reads it: packed where the format has a packed form, else the
  // stored rows copied to the backend's huge pages (as copy_to_huge_pages copies a file's).
  std::vector<std::unique_ptr<PackedWeight>> packed;
  std::vector<WeightView> resident;
  int64_t bytes = static_cast<int64_t>(stored.bytes.size());
  for (int c = 0; c < o.copies; ++c) {
    if (auto p = PackedWeight::pack(*k, pool, arena, stored.view)) {
      bytes = p->bytes();
      packed.push_back(std::move(p));
      continue;
    }
    uint8_t* copy = arena.allocate(stored.bytes.size());
    if (!copy) usage("out of memory for the copies");
    std::copy(stored.bytes.begin(), stored.bytes.end(), copy);
    resident.push_back(stored.view);
    resident.back().data = copy;
  }
  std::vector<float> x(static_cast<size_t>(o.cols)), out(static_cast<size_t>(o.rows));
  std::mt19937 rng(2);
  for (float& v : x) v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  const Tensor x_row = Tensor::contiguous(DType::kF32, 1, o.cols, x.data());
  const Tensor out_row = Tensor::contiguous(DType::kF32, 1, o.rows, out.data());
  MatmulScratch scratch;
  std::vector<double> seconds;
  for (int r = 0; r < o.reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const size_t c = static_cast<size_t>(r % o.copies);
    if (!packed.empty())
      matmul_packed(*k, pool, scratch, out_row, x_row, *packed[c]);
    else
      matmul(*k, pool, scratch, out_row, x_row, resident[c]);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2], p10 = seconds[seconds.size() / 10];
  std::printf("%s %lld x %lld, %d threads, %s table, %d copies of %lld bytes: median %.2f us, %.1f GB/s (10th percentile %.1f)\n",
              std::string(dtype_name(o.dtype)).c_str(), static_cast<long long>(o.rows),
              static_cast<long long>(o.cols), o.threads, std::string(k->isa).c_str(), o.copies,
              static_cast<long long>(bytes), median * 1e6, static_cast<double>(bytes) / median / 1e9,
              static_cast<double>(bytes) / p10 / 1e9);
  return 0;
}
