// The BPE model of a tokenizer.json: vocabulary, merges by rank, and the encoding of one
// pre-tokenized word into ids, with the same merge order as Hugging Face's
// models/bpe/word.rs (always the lowest-ranked pair present, leftmost first).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/flat_hash.h"
#include "tokenizer/token_id.h"

namespace dsinfer {

struct BpeOptions {
  // Symbols of a word are its bytes (the pre-tokenizer ends in ByteLevel, so vocabulary
  // strings are in the byte-level alphabet) rather than its UTF-8 characters.
  bool byte_level = true;
  std::optional<std::string> unk_token;  // id used for a symbol missing from the vocabulary
  bool fuse_unk = false;                 // consecutive unknown symbols become one unk
  bool ignore_merges = false;            // a word found whole in the vocabulary is one token
};

// Scratch space for encoding words, plus a cache of word -> ids. One per encode call (or
// per thread); the model itself is immutable and shared.
class BpeScratch {
 public:
  // The cached ids of `word`, or nullptr.
  const std::vector<TokenId>* find(std::string_view word, uint64_t hash) const;
  void insert(std::string_view word, uint64_t hash, std::span<const TokenId> ids);

 private:
  friend class BpeModel;
  struct Symbol {
    uint32_t id;
    int32_t prev;
    int32_t next;
    bool removed;
  };
  struct Candidate {
    uint32_t rank;
    uint32_t pos;
    uint32_t new_id;
  };
  std::vector<Symbol> symbols_;
  std::vector<Candidate> heap_;
  std::vector<TokenId> ids_;
  std::string spelled_;  // a word in the byte-level alphabet, for ignore_merges lookups

  // Cache: open addressing over entries that own their key and ids.
  struct Entry {
    uint64_t hash = 0;
    std::string word;
    std::vector<TokenId> ids;
    bool used = false;
  };
  std::vector<Entry> cache_;
  size_t cache_size_ = 0;
};

class BpeModel {
 public:
  // Words longer than this are not cached (HF uses the same bound).
  static constexpr size_t kMaxCachedWordBytes = 256;
  // Cache entries kept per scratch; past this, new words are not cached.
  static constexpr size_t kMaxCacheEntries = 1 << 16;

  // Builds the model incrementally, as a streaming JSON reader meets vocab and merges.
  class Builder {
   public:
    // Sizes the arenas for a tokenizer.json of this many bytes (vocab and merges are
    // nearly all of it), so they are not regrown and copied while reading.
    void reserve_for_json_bytes(size_t bytes);
    void add_token(std::string_view token, uint32_t id);
    // A merge given as [left, right].
    void add_merge(std::string_view left, std::string_view right);
    // A merge in the legacy "left right" form; lines starting with "#version" are skipped.
    void add_merge_line(std::string_view line);
    Result<BpeModel> build(const BpeOptions& options) &&;

   private:
    struct Token {
      uint32_t offset, length, id;  // text in token_text_
    };
    struct Merge {
      uint32_t offset, left_length, right_length;  // left then right in merge_text_
    };
    FlatStringMap vocab_;
    std::vector<Token> tokens_;  // file order
    std::string token_text_;
    std::vector<Merge> merges_;  // rank order
    std::string merge_text_;
    std::optional<std::string> bad_merge_;
  };

  // Appends the ids of one pre-tokenized word (raw text bytes).
  void encode_word(std::string_view word, BpeScratch& scratch, std::vector<TokenId>& out) const;

  // Vocabulary lookups in the file's spelling (byte-level alphabet for byte-level models).
  std::optional<TokenId> token_to_id(std::string_view token) const;
  // Empty for ids that no vocabulary entry has.
  std::string_view id_to_token(TokenId id) const;
  size_t vocab_size() const { return vocab_.size(); }  // number of entries, as HF counts
  TokenId max_id() const { return TokenId(token_offsets_.size()) - 2; }
  const BpeOptions& options() const { return options_; }

 private:
  void merge_symbols(BpeScratch& scratch) const;
  void merge_symbols_small(BpeScratch& scratch) const;
  void add_symbol(uint32_t id, std::optional<uint32_t>& pending_unk, BpeScratch& scratch) const;

  BpeOptions options_;
  FlatStringMap vocab_;
  std::vector<uint32_t> token_offsets_;  // id -> [offsets[id], offsets[id+1]) in token_text_
  std::string token_text_;
  MergeTable merges_;
  std::vector<uint32_t> byte_ids_;  // byte-level models: id of each single byte, or kMissing
  std::optional<uint32_t> unk_id_;
};

}  // namespace dsinfer
