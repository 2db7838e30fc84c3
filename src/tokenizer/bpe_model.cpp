#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <limits>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsinfer {

// ---------------------------------------------------------------------------------------
// Word cache

const std::vector<TokenId>* BpeScratch::find(std::string_view word, uint64_t hash) const {
  if (cache_.empty()) return nullptr;
  const size_t mask = cache_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Entry& e = cache_[i];
    if (!e.used) return nullptr;
    if (e.hash == hash && e.word == word) return &e.ids;
  }
}

void BpeScratch::insert(std::string_view word, uint64_t hash, std::span<const TokenId> ids) {
  if (cache_size_ >= BpeModel::kMaxCacheEntries) return;
  if ((cache_size_ + 1) * 2 > cache_.size()) {
    std::vector<Entry> old = std::move(cache_);
    cache_.clear();
    cache_.resize(old.empty() ? 1024 : old.size() * 2);
    const size_t mask = cache_.size() - 1;
    for (Entry& e : old) {
      if (!e.used) continue;
      size_t i = e.hash & mask;
      while (cache_[i].used) i = (i + 1) & mask;
      cache_[i] = std::move(e);
    }
  }
  const size_t mask = cache_.size() - 1;
  size_t i = hash & mask;
  while (cache_[i].used) i = (i + 1) & mask;
  cache_[i] = Entry{hash, std::string(word), std::vector<TokenId>(ids.begin(), ids.end()), true};
  ++cache_size_;
}

// ---------------------------------------------------------------------------------------
// Builder

void BpeModel::Builder::reserve_for_json_bytes(size_t bytes) {
  // V3: 8 MB of JSON holds 1 MB of vocabulary text in 128k entries and 2 MB of merges.
  token_text_.reserve(bytes / 6);
  merge_text_.reserve(bytes / 3);
  tokens_.reserve(bytes / 48);
  merges_.reserve(bytes / 48);
}

void BpeModel::Builder::add_token(std::string_view token, uint32_t id) {
  tokens_.push_back(Token{uint32_t(token_text_.size()), uint32_t(token.size()), id});
  token_text_.append(token);
}

void BpeModel::Builder::add_merge(std::string_view left, std::string_view right) {
  merges_.push_back(Merge{uint32_t(merge_text_.size()), uint32_t(left.size()), uint32_t(right.size())});
  merge_text_.append(left);
  merge_text_.append(right);
}

void BpeModel::Builder::add_merge_line(std::string_view line) {
  if (line.starts_with("#version")) return;
  const size_t space = line.find(' ');
  // HF splits on every space and wants exactly two parts.
  if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
    if (!bad_merge_) bad_merge_ = std::string(line);
    return;
  }
  add_merge(line.substr(0, space), line.substr(space + 1));
}

Result<BpeModel> BpeModel::Builder::build(const BpeOptions& options) && {
  if (bad_merge_) return error("model.merges: entry \"{}\" is not two tokens separated by one space", *bad_merge_);
  BpeModel model;
  model.options_ = options;
  if (token_text_.size() > UINT32_MAX || merge_text_.size() > UINT32_MAX) return error("model: vocabulary too large");
  auto text_of = [&](const Token& t) { return std::string_view(token_text_).substr(t.offset, t.length); };
  // The map is built once with its final size (a JSON duplicate: the last one wins).
  // Hashes first, then inserts with the slots some entries ahead prefetched.
  constexpr size_t kAhead = 16;
  vocab_.reserve(tokens_.size());
  std::vector<uint64_t> hashes(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) hashes[i] = hash_bytes(text_of(tokens_[i]));
  bool duplicates = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (i + kAhead < tokens_.size()) vocab_.prefetch_slot(hashes[i + kAhead]);
    duplicates |= !vocab_.insert(text_of(tokens_[i]), hashes[i], tokens_[i].id);
  }

  // id -> token text. With duplicate ids the last entry wins (HF keeps an arbitrary one).
  uint32_t max_id = 0;
  for (const Token& t : tokens_) max_id = std::max(max_id, t.id);
  if (max_id >= uint32_t(std::numeric_limits<TokenId>::max())) return error("model.vocab: id {} is too large", max_id);
  // The id -> text table is dense. Real vocabularies number their tokens 0..n-1; a few
  // far-off ids would make it gigabytes (one pointer per unused id).
  if (max_id >= 2 * tokens_.size() + 65536)
    return error("model.vocab: id {} is far beyond the {} tokens; ids must number the vocabulary from 0", max_id,
                 tokens_.size());
  std::vector<const Token*> chosen(tokens_.empty() ? 0 : size_t(max_id) + 1, nullptr);
  for (const Token& t : tokens_) {
    // Only the entry the map kept for its string counts (JSON duplicates: last wins).
    if (!duplicates || vocab_.find(text_of(t)) == t.id) chosen[t.id] = &t;
  }
  model.token_offsets_.reserve(chosen.size() + 1);
  model.token_text_.reserve(token_text_.size());
  for (const Token* t : chosen) {
    model.token_offsets_.push_back(uint32_t(model.token_text_.size()));
    if (t) model.token_text_.append(text_of(*t));
  }
  model.token_offsets_.push_back(uint32_t(model.token_text_.size()));
  if (model.token_offsets_.size() < 2) model.token_offsets_.assign(2, 0);  // max_id() == 0 on empty vocab

  // Merges: resolve both sides and their concatenation; the rank is the merge's index.
  // BPE trainers give the token made by merge r the id r + (alphabet size), so the
  // concatenation is first compared with the token at the id the previous merge
  // suggests: a sequential walk through the token text instead of 127k random probes
  // of the hash table. Any other layout falls back to the map. The two sides are looked
  // up with their slots, then their key text, prefetched some merges ahead.
  const size_t n_merges = merges_.size();
  auto side = [&](size_t rank, int which) {
    const Merge& m = merges_[rank];
    return which == 0 ? std::string_view(merge_text_).substr(m.offset, m.left_length)
                      : std::string_view(merge_text_).substr(m.offset + m.left_length, m.right_length);
  };
  std::vector<uint64_t> side_hashes(2 * n_merges);
  for (size_t r = 0; r < n_merges; ++r) {
    side_hashes[2 * r] = hash_bytes(side(r, 0));
    side_hashes[2 * r + 1] = hash_bytes(side(r, 1));
  }
  struct Resolved {
    uint32_t left, right, merged;
  };
  std::vector<Resolved> resolved(n_merges);
  std::string joined;
  int64_t id_offset = 0;
  for (size_t rank = 0; rank < n_merges; ++rank) {
    if (rank + 2 * kAhead < n_merges) {
      vocab_.prefetch_slot(side_hashes[2 * (rank + 2 * kAhead)]);
      vocab_.prefetch_slot(side_hashes[2 * (rank + 2 * kAhead) + 1]);
    }
    if (rank + kAhead < n_merges) {
      vocab_.prefetch_key(side_hashes[2 * (rank + kAhead)]);
      vocab_.prefetch_key(side_hashes[2 * (rank + kAhead) + 1]);
    }
    const std::string_view left = side(rank, 0);
    const std::string_view right = side(rank, 1);
    const uint32_t left_id = vocab_.find(left, side_hashes[2 * rank]);
    const uint32_t right_id = vocab_.find(right, side_hashes[2 * rank + 1]);
    if (left_id == FlatStringMap::kMissing) return error("model.merges: token \"{}\" is not in the vocabulary", left);
    if (right_id == FlatStringMap::kMissing) return error("model.merges: token \"{}\" is not in the vocabulary", right);
    joined.assign(left).append(right);
    uint32_t new_id = FlatStringMap::kMissing;
    const int64_t guess = int64_t(rank) + id_offset;
    if (guess >= 0 && guess < int64_t(model.token_offsets_.size()) - 1 && model.id_to_token(TokenId(guess)) == joined) {
      new_id = uint32_t(guess);
    } else {
      new_id = vocab_.find(joined);
      if (new_id == FlatStringMap::kMissing)
        return error("model.merges: merged token \"{}\" is not in the vocabulary", joined);
      id_offset = int64_t(new_id) - int64_t(rank);
    }
    resolved[rank] = Resolved{left_id, right_id, new_id};
  }
  model.merges_.reserve(n_merges);
  for (size_t rank = 0; rank < n_merges; ++rank) {
    if (rank + kAhead < n_merges) model.merges_.prefetch(resolved[rank + kAhead].left, resolved[rank + kAhead].right);
    model.merges_.insert(resolved[rank].left, resolved[rank].right, MergeTable::Merge{uint32_t(rank), resolved[rank].merged});
  }

  if (options.unk_token) {
    const uint32_t id = vocab_.find(*options.unk_token);
    if (id == FlatStringMap::kMissing) return error("model.unk_token \"{}\" is not in the vocabulary", *options.unk_token);
    model.unk_id_ = id;
  }
  if (options.byte_level) {
    model.byte_ids_.resize(256);
    std::string spelled;
    for (int b = 0; b < 256; ++b) {
      spelled.clear();
      const char byte = char(b);
      append_byte_level(std::string_view(&byte, 1), spelled);
      model.byte_ids_[b] = vocab_.find(spelled);
    }
  }
  model.vocab_ = std::move(vocab_);
  return model;
}

// ---------------------------------------------------------------------------------------
// Encoding

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  const uint32_t id = vocab_.find(token);
  if (id == FlatStringMap::kMissing) return std::nullopt;
  return TokenId(id);
}

std::string_view BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || size_t(id) + 1 >= token_offsets_.size()) return {};
  return std::string_view(token_text_).substr(token_offsets_[id], token_offsets_[id + 1] - token_offsets_[id]);
}

// HF's unknown-symbol rule (models/bpe/model.rs merge_word): a run of unknown symbols
// becomes one unk when fuse_unk, else one unk each; without an unk token they vanish.
void BpeModel::add_symbol(uint32_t id, std::optional<uint32_t>& pending_unk, BpeScratch& scratch) const {
  auto push = [&](uint32_t symbol) {
    scratch.symbols_.push_back(BpeScratch::Symbol{symbol, 0, 0, false});
  };
  if (id != FlatStringMap::kMissing) {
    if (pending_unk) push(*pending_unk);
    pending_unk.reset();
    push(id);
    return;
  }
  if (!unk_id_) return;
  if (pending_unk && !options_.fuse_unk) push(*pending_unk);
  pending_unk = *unk_id_;
}

void BpeModel::encode_word(std::string_view word, BpeScratch& scratch, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    std::string_view key = word;
    if (options_.byte_level) {
      scratch.spelled_.clear();
      append_byte_level(word, scratch.spelled_);
      key = scratch.spelled_;
    }
    const uint32_t id = vocab_.find(key);
    if (id != FlatStringMap::kMissing) {
      out.push_back(TokenId(id));
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  const uint64_t hash = cacheable ? hash_bytes(word) : 0;
  if (cacheable) {
    if (const std::vector<TokenId>* hit = scratch.find(word, hash)) {
      out.insert(out.end(), hit->begin(), hit->end());
      return;
    }
  }

  scratch.symbols_.clear();
  std::optional<uint32_t> pending_unk;
  if (options_.byte_level) {
    for (unsigned char b : word) add_symbol(byte_ids_[b], pending_unk, scratch);
  } else {
    for (size_t i = 0; i < word.size();) {
      const size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(word[i])), word.size() - i);
      add_symbol(vocab_.find(word.substr(i, len)), pending_unk, scratch);
      i += len;
    }
  }
  if (pending_unk) scratch.symbols_.push_back(BpeScratch::Symbol{*pending_unk, 0, 0, false});

  constexpr size_t kSmallWord = 48;
  if (scratch.symbols_.size() <= kSmallWord) {
    merge_symbols_small(scratch);
  } else {
    merge_symbols(scratch);
  }

  scratch.ids_.clear();
  for (const auto& s : scratch.symbols_)
    if (!s.removed) scratch.ids_.push_back(TokenId(s.id));
  out.insert(out.end(), scratch.ids_.begin(), scratch.ids_.end());
  if (cacheable) scratch.insert(word, hash, scratch.ids_);
}

// Short words: keep the pairs' ranks in a small array and merge the leftmost lowest one
// until none is left. Same order as the heap below, with less bookkeeping.
void BpeModel::merge_symbols_small(BpeScratch& scratch) const {
  auto& symbols = scratch.symbols_;
  size_t n = symbols.size();
  if (n < 2) return;
  uint32_t ids[64];
  uint32_t ranks[64];
  uint32_t new_ids[64];
  for (size_t i = 0; i < n; ++i) ids[i] = symbols[i].id;
  auto rank_pair = [&](size_t i) {
    const MergeTable::Merge* m = merges_.find(ids[i], ids[i + 1]);
    ranks[i] = m ? m->rank : UINT32_MAX;
    new_ids[i] = m ? m->new_id : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) rank_pair(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == UINT32_MAX) break;
    ids[best] = new_ids[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      new_ids[i] = new_ids[i + 1];
    }
    --n;
    if (best > 0) rank_pair(best - 1);
    if (best + 1 < n) {
      rank_pair(best);
    } else {
      ranks[best] = UINT32_MAX;
    }
  }
  symbols.resize(n);
  for (size_t i = 0; i < n; ++i) symbols[i] = BpeScratch::Symbol{ids[i], 0, 0, false};
}

// Long words: a min-heap of candidate merges (rank, then position) over a linked list of
// symbols, as HF's Word::merge_all. Stale candidates are recognised when the pair at their
// position no longer merges into the same id.
void BpeModel::merge_symbols(BpeScratch& scratch) const {
  auto& symbols = scratch.symbols_;
  auto& heap = scratch.heap_;
  const int32_t n = int32_t(symbols.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  // std heaps are max-heaps: "a < b" means a is merged later.
  auto later = [](const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const MergeTable::Merge* m = merges_.find(symbols[i].id, symbols[i + 1].id))
      heap.push_back({m->rank, uint32_t(i), m->new_id});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  auto push = [&](uint32_t pos, uint32_t left, uint32_t right) {
    if (const MergeTable::Merge* m = merges_.find(left, right)) {
      heap.push_back({m->rank, pos, m->new_id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const BpeScratch::Candidate top = heap.back();
    heap.pop_back();
    BpeScratch::Symbol& sym = symbols[top.pos];
    if (sym.removed || sym.next < 0) continue;
    BpeScratch::Symbol& right = symbols[sym.next];
    const MergeTable::Merge* current = merges_.find(sym.id, right.id);
    if (!current || current->new_id != top.new_id) continue;
    sym.id = top.new_id;
    right.removed = true;
    sym.next = right.next;
    if (sym.next >= 0) symbols[sym.next].prev = int32_t(top.pos);
    if (sym.prev >= 0) push(uint32_t(sym.prev), symbols[sym.prev].id, sym.id);
    if (sym.next >= 0) push(top.pos, sym.id, symbols[sym.next].id);
  }
}

}  // namespace dsinfer
