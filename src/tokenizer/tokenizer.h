// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) for byte-level BPE
// models such as DeepSeek V2/V3/R1/V3.1. encode() gives the ids HF `tokenizers` gives;
// decode() the text it gives. Immutable after loading: one Tokenizer may serve many
// threads, each with its own EncodeScratch (or none, at the cost of a fresh one per call).
//
// Supported tokenizer.json: model BPE (unk_token, fuse_unk, ignore_merges; merges as
// strings or pairs); normalizer none or an empty Sequence; pre_tokenizer Sequence of
// Split / Digits / ByteLevel; decoder ByteLevel or none; post_processor ByteLevel,
// TemplateProcessing (ids come from tokenizer_config.json, see EncodeOptions) or none;
// added_tokens with all their flags. Anything else fails to load with an error that names
// the feature.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/token_id.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {

struct EncodeOptions {
  // Prepend BOS / append EOS as tokenizer_config.json says (add_bos_token, add_eos_token),
  // which is what transformers' LlamaTokenizerFast (DeepSeek's tokenizer_class) does.
  bool add_special_tokens = false;
  // Special added tokens written in the text ("<｜begin▁of▁sentence｜>") become their ids,
  // as HF does by default. False encodes them as ordinary text (HF's
  // encode_special_tokens); non-special added tokens such as "<｜User｜>" still match.
  bool match_special_tokens = true;
};

struct DecodeOptions {
  bool skip_special_tokens = false;
};

// Reusable per-thread state for encode(): match data and the word -> ids cache. The cache
// belongs to one tokenizer; given to another, the scratch starts over.
struct EncodeScratch {
  PreTokenizerScratch pretokenizer;
  BpeScratch bpe;
  std::vector<AddedVocabulary::Segment> segments;
  uint64_t owner = 0;  // Tokenizer::instance_id_ of the cached words
};

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and DIR/tokenizer_config.json (the latter may be absent).
  static Result<Tokenizer> load(const std::string& model_dir);
  // From file contents; `origin` names the source in error messages.
  static Result<Tokenizer> from_json(std::string_view tokenizer_json, TokenizerConfig config,
                                     std::string_view origin = "tokenizer.json");

  // Fails only on invalid UTF-8 (naming the byte offset) or a regex engine failure.
  Result<std::vector<TokenId>> encode(std::string_view text, const EncodeOptions& options = {}) const;
  Status encode(std::string_view text, const EncodeOptions& options, EncodeScratch& scratch,
                std::vector<TokenId>& out) const;

  // Text of `ids`, with malformed UTF-8 replaced by U+FFFD as HF does. Fails on an id
  // outside [0, vocab_size()) that no token has.
  Result<std::string> decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  // The bytes the decoder turns one id into: possibly part of a UTF-8 character (the
  // streaming decoder joins them). nullopt for an id no token has.
  std::optional<std::string_view> token_bytes(TokenId id) const;
  // Whether decode(skip_special_tokens) drops this id.
  bool is_special(TokenId id) const;
  // Without a decoder in tokenizer.json, HF joins token strings with spaces.
  bool decoder_joins_with_spaces() const { return join_with_spaces_; }

  // Token string as written in tokenizer.json (byte-level alphabet for vocabulary tokens).
  std::optional<std::string> id_to_token(TokenId id) const;
  std::optional<TokenId> token_to_id(std::string_view token) const;  // added tokens first
  // Ids are in [0, vocab_size()); some may be unused.
  size_t vocab_size() const { return decoded_offsets_.size() - 1; }

  std::optional<TokenId> bos_id() const { return bos_id_; }
  std::optional<TokenId> eos_id() const { return eos_id_; }
  // The ids that end a reply: EOS and the ids the model's generation settings add
  // (generation_config.json's eos_token_id; Kimi K2 ends a turn with <|im_end|>, not with
  // its EOS). load_model_tokenizer adds those; a bare tokenizer has EOS alone.
  std::vector<TokenId> end_of_generation() const;
  bool ends_generation(TokenId id) const;
  // For loaders: one more id that ends a reply (any id the model may sample).
  void add_end_of_generation(TokenId id);
  const TokenizerConfig& config() const { return config_; }
  // Things HF would log while loading (e.g. added-token ids that differ from the file).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Tokenizer() = default;
  Status build_decoder_table(bool byte_level_decoder);

  TokenizerConfig config_;
  uint64_t instance_id_ = 0;  // random, tells EncodeScratch caches of different tokenizers apart
  BpeModel model_;
  AddedVocabulary added_;
  PreTokenizer pretokenizer_;
  std::optional<TokenId> bos_id_;
  std::optional<TokenId> eos_id_;
  std::vector<TokenId> more_end_of_generation_;  // besides EOS
  bool join_with_spaces_ = false;        // no decoder: HF joins token strings with ' '
  std::vector<uint32_t> decoded_offsets_;  // id -> bytes [offsets[id], offsets[id+1]) of decoded_
  std::string decoded_;
  std::vector<bool> exists_;   // some token has this id
  std::vector<bool> special_;  // decode(skip_special_tokens) drops it
  std::vector<std::string> warnings_;
};

}  // namespace dsinfer
