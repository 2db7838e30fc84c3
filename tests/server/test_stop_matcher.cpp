#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "server/stop_matcher.h"

namespace dsinfer::server {
namespace {

struct Streamed {
  std::string text;
  bool stopped = false;
};

// Feeds `pieces` and the end of the stream; checks nothing is released after a stop.
Streamed stream(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Streamed s;
  for (const std::string& p : pieces) {
    StopMatcher::Output o = m.push(p);
    if (s.stopped) {
      EXPECT_TRUE(o.text.empty());
    }
    s.text += o.text;
    s.stopped |= o.stopped;
  }
  if (!s.stopped) s.text += m.finish();
  return s;
}

// Every way of cutting `text` in two, and byte by byte, gives the same result.
void expect_all_splits(const std::vector<std::string>& stops, const std::string& text, const std::string& want,
                       bool want_stopped) {
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Streamed s = stream(stops, {text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(s.text, want) << "cut at " << cut;
    EXPECT_EQ(s.stopped, want_stopped) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  Streamed s = stream(stops, bytes);
  EXPECT_EQ(s.text, want);
  EXPECT_EQ(s.stopped, want_stopped);
}

TEST(StopMatcher, NoStopsPassesEverythingAtOnce) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc").text, "abc");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, StopAcrossPieces) {
  expect_all_splits({"o world"}, "Hello world, again", "Hell", true);
  EXPECT_EQ(stream({"o world"}, {"Hel", "lo wor", "ld"}).text, "Hell");
}

TEST(StopMatcher, HoldsOnlyAPossibleStart) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abcST").text, "abc");  // "ST" may become STOP
  EXPECT_EQ(m.push("x").text, "STx");      // it did not
  EXPECT_EQ(m.push("S").text, "");
  EXPECT_EQ(m.finish(), "S");
}

TEST(StopMatcher, EarliestStopWins) {
  expect_all_splits({"cd", "b"}, "abcd", "a", true);
  expect_all_splits({"bcd", "cx"}, "abcd", "a", true);
}

TEST(StopMatcher, OverlappingPrefixes) {
  // "aab": after "aa" the tail "a" and "aa" are both possible starts.
  expect_all_splits({"aab"}, "xaaab!", "xa", true);
  expect_all_splits({"aab"}, "xaaa", "xaaa", false);
}

TEST(StopMatcher, MultiByteStop) {
  expect_all_splits({"。\n"}, "你好。\n再见", "你好", true);
  expect_all_splits({"<｜end｜>"}, "text <｜en", "text <｜en", false);
}

TEST(StopMatcher, StopAtTheVeryStart) {
  expect_all_splits({"\n"}, "\nabc", "", true);
}

TEST(StopMatcher, EmptyStopStringsIgnored) {
  expect_all_splits({"", "z"}, "abc", "abc", false);
}

}  // namespace
}  // namespace dsinfer::server
