// Stop strings over a stream of decoded text. Text arrives in pieces that need not line up
// with a stop string ("Hel" + "lo wor" + "ld" against "o world"), so the matcher holds back
// only the tail that could still be the start of a stop string and releases the rest at
// once. When a stop string completes, the text before it is released and the stop string
// and everything after it are dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings are ignored

  struct Output {
    std::string text;      // safe to show
    bool stopped = false;  // a stop string completed; later pushes return nothing
  };
  Output push(std::string_view text);
  // End of the stream: the held-back tail (it did not become a stop string).
  std::string finish();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace dsinfer::server
