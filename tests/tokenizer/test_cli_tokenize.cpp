// `dsinfer tokenize` / `dsinfer detokenize` as a user runs them: JSON Lines through a
// pipe, on a folder that holds only tokenizer.json and tokenizer_config.json.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;

// A folder with just the two tokenizer files, removed when the test program exits.
class TokenizerOnlyDir {
 public:
  TokenizerOnlyDir() : path_(fs::temp_directory_path() / ("dsinfer-tok-cli-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(fs::path(DSINFER_SOURCE_DIR) / "data/tokenizers/deepseek_v3" / name, path_ / name,
                    fs::copy_options::overwrite_existing);
  }
  ~TokenizerOnlyDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string tokenizer_only_dir() {
  static const TokenizerOnlyDir dir;
  return dir.path();
}

struct CliResult {
  std::string out;
  int status;
};

// Runs `dsinfer ARGS` with `input` on stdin.
CliResult run(const std::string& args, const std::string& input) {
  const fs::path in = fs::temp_directory_path() / ("dsinfer-tok-cli-in-" + std::to_string(::getpid()));
  {
    std::FILE* f = std::fopen(in.c_str(), "wb");
    std::fwrite(input.data(), 1, input.size(), f);
    std::fclose(f);
  }
  const std::string command = std::string(DSINFER_BIN) + " " + args + " < " + in.string() + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  CliResult result{"", -1};
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.out.append(buffer, n);
  result.status = ::pclose(pipe);
  fs::remove(in);
  return result;
}

TEST(TokenizeCli, OneLinePerInputAndErrorsInBand) {
  const std::string input = std::string("\"Hello, world!\"\n") + "\"<｜User｜>hi\"\n" + "42\n" + "not json\n" +
                            "\"bad \xff utf8\"\n" + "\"\\ud800\"\n" + "\"last\"\n";
  const CliResult r = run("tokenize --model " + tokenizer_only_dir(), input);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "{\"ids\":[19923,14,2058,3]}\n"
            "{\"ids\":[128803,6366]}\n"
            "{\"error\":\"line 3: expected a JSON string\"}\n"
            "{\"error\":\"line 4: not valid JSON: parse error at line 1, column 2: syntax error while parsing value - "
            "invalid literal; last read: 'no'\"}\n"
            "{\"error\":\"line 5: input is not valid UTF-8 (byte offset 5)\"}\n"
            "{\"error\":\"line 6: not valid JSON: parse error at line 1, column 8: syntax error while parsing value - "
            "invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: '\\\"\\\\ud800\\\"'\"}\n"
            "{\"ids\":[10071]}\n");
}

TEST(TokenizeCli, AddSpecialPrependsBos) {
  const CliResult r = run("tokenize --add-special --model " + tokenizer_only_dir(), "\"Hello\"\n");
  EXPECT_EQ(r.out, "{\"ids\":[0,19923]}\n");
  const CliResult split = run("tokenize --split-special --model " + tokenizer_only_dir(), "\"<｜end▁of▁sentence｜>\"\n");
  EXPECT_EQ(split.out.find("{\"ids\":[1]}"), std::string::npos) << split.out;
}

TEST(DetokenizeCli, IdArraysToStrings) {
  const std::string input = "[19923,14,2058,3]\n[0,19923,1]\n[1,\"x\"]\n[999999]\n[228]\n";
  const CliResult r = run("detokenize --model " + tokenizer_only_dir(), input);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "\"Hello, world!\"\n"
            "\"<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>\"\n"
            "{\"error\":\"line 3: expected a JSON array of token ids (non-negative integers)\"}\n"
            "{\"error\":\"line 4: token id 999999 is not in the vocabulary (size 128815)\"}\n"
            "\"\xEF\xBF\xBD\"\n");
  EXPECT_EQ(run("detokenize --skip-special --model " + tokenizer_only_dir(), "[0,19923,1]\n").out, "\"Hello\"\n");
}

TEST(TokenizeCli, MissingFolderFails) {
  const CliResult r = run("tokenize --model /nonexistent-dsinfer", "\"x\"\n");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("tokenizer.json"), std::string::npos);
}

}  // namespace
