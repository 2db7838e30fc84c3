#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8.h"

namespace dsinfer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(tokenizer), options_(options) {}

Result<std::string> StreamDecoder::push(TokenId id) {
  std::optional<std::string_view> bytes = tokenizer_.token_bytes(id);
  if (!bytes) return error("token id {} is not in the vocabulary (size {})", id, tokenizer_.vocab_size());
  std::string out;
  if (options_.skip_special_tokens && tokenizer_.is_special(id)) return out;
  if (tokenizer_.decoder_joins_with_spaces() && !first_) pending_.push_back(' ');
  pending_.append(*bytes);
  const size_t consumed = append_utf8_lossy(pending_, /*final_chunk=*/false, out);
  pending_.erase(0, consumed);
  first_ = false;
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  append_utf8_lossy(pending_, /*final_chunk=*/true, out);
  pending_.clear();
  return out;
}

}  // namespace dsinfer
