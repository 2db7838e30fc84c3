// Tokenizer benchmark: load time of a tokenizer folder and single-thread encode
// throughput on English prose, Chinese prose and source code. The JS reference is
// measured on the same texts by tests/reference/tokenizer/bench_encode.js; both build each
// input the same way (a text file repeated until it reaches --mib MiB).
//
//   tokenizer_bench [--model DIR] [--texts DIR] [--mib N] [--repeat R] [--cold 0|1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The same rule as bench_encode.js: whole copies until the size is reached.
std::string repeated(const std::string& text, size_t bytes) {
  std::string out;
  while (out.size() < bytes) out += text;
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = DSINFER_SOURCE_DIR "/data/tokenizers/deepseek_v3";
  std::string texts_dir = DSINFER_SOURCE_DIR "/bench/tokenizer_texts";
  double mib = 1.0;
  int repeat = 5;
  bool run_cold = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--model") model_dir = argv[i + 1];
    else if (arg == "--texts") texts_dir = argv[i + 1];
    else if (arg == "--mib") mib = std::atof(argv[i + 1]);
    else if (arg == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (arg == "--cold") run_cold = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }

  // Load: the whole of Tokenizer::load (both files read, parsed, tables built).
  std::vector<double> loads;
  std::optional<dsinfer::Tokenizer> tokenizer;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    auto loaded = dsinfer::Tokenizer::load(model_dir);
    loads.push_back(seconds_since(start) * 1e3);
    if (!loaded.is_ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return 1;
    }
    tokenizer.emplace(std::move(loaded).value());
  }
  std::printf("load %s: median %.1f ms, min %.1f ms (%d runs)\n", model_dir.c_str(), median(loads),
              *std::min_element(loads.begin(), loads.end()), repeat);

  for (const char* name : {"english", "chinese", "code"}) {
    const std::string seed = read_file(texts_dir + "/" + name + ".txt");
    const std::string text = repeated(seed, size_t(mib * 1024 * 1024));
    std::vector<double> speeds;
    size_t tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto start = Clock::now();
      auto ids = tokenizer->encode(text);  // a fresh scratch: the word cache starts empty
      const double s = seconds_since(start);
      if (!ids.is_ok()) {
        std::fprintf(stderr, "%s\n", ids.status().message().c_str());
        return 1;
      }
      tokens = ids->size();
      speeds.push_back(double(text.size()) / 1e6 / s);
    }
    // Cold: one copy of the seed text at a time, each call with an empty word cache.
    std::vector<double> cold;
    for (int r = 0; r < (run_cold ? repeat : 0); ++r) {
      const int calls = std::max(1, int(text.size() / seed.size()));
      const auto start = Clock::now();
      for (int c = 0; c < calls; ++c) {
        auto ids = tokenizer->encode(seed);
        if (!ids.is_ok()) return 1;
      }
      cold.push_back(double(seed.size()) * calls / 1e6 / seconds_since(start));
    }
    std::printf("encode %-7s %7zu bytes -> %6zu tokens: median %6.1f MB/s, best %6.1f MB/s; "
                "per-copy calls (cold cache) median %6.1f MB/s\n",
                name, text.size(), tokens, median(speeds), *std::max_element(speeds.begin(), speeds.end()),
                cold.empty() ? 0.0 : median(cold));
  }
  return 0;
}
