// A per-test scratch folder under the system temp directory, removed afterwards.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace dsinfer::test {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("dsinfer_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_text(const std::string& name, const std::string& text) const {
    std::ofstream out(path(name), std::ios::binary | std::ios::trunc);
    out << text;
  }

  std::filesystem::path dir_;
};

// True when `haystack` contains every one of `needles`; gtest prints the message otherwise.
inline ::testing::AssertionResult contains_all(const std::string& haystack, std::initializer_list<std::string> needles) {
  for (const auto& needle : needles)
    if (haystack.find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << haystack << "\" lacks \"" << needle << "\"";
  return ::testing::AssertionSuccess();
}

}  // namespace dsinfer::test
