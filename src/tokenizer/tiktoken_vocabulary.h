// Kimi K2's own vocabulary: a tiktoken file (DIR/tiktoken.model, one "<base64 bytes> <rank>"
// line per token) with Moonshot's split pattern and the special tokens of
// tokenizer_config.json's added_tokens_decoder, read as the byte-level BPE it is, so that a
// Kimi K2 folder runs `run -p`, `chat`, `serve` and `tokenize` as a DeepSeek folder does.
//
// What tokenization_kimi.py builds: token ids are the ranks; the 258 ids after them are
// special tokens, named by added_tokens_decoder or "<|reserved_token_ID|>"; text is split
// with Moonshot's pattern and each piece becomes one token when it is one (tiktoken looks
// the whole piece up first), else is merged pair by pair, lowest rank first. The merges
// are those llama.cpp's converter derives from the ranks: for each token, the two parts
// rank-ordered merging with only lower ranks leaves. One difference: tiktoken's caller
// cuts runs of over 25,000 characters that are all whitespace or all not whitespace
// before splitting; here such a run is split as a whole.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer {

// Whether DIR holds a tiktoken vocabulary and no tokenizer.json.
bool has_tiktoken_vocabulary(const std::string& model_dir);

// The tokenizer of DIR/tiktoken.model and DIR/tokenizer_config.json. DIR/config.json must
// say model_type kimi_k2: the split pattern lives in Python code, and Kimi K2's is the
// one dsinfer knows.
Result<Tokenizer> tokenizer_from_tiktoken(const std::string& model_dir);

// The same from the two files' contents, each named in errors by its origin.
Result<Tokenizer> tokenizer_from_tiktoken_text(std::string_view vocabulary, const std::string& vocabulary_origin,
                                               std::string_view tokenizer_config, const std::string& config_origin);

}  // namespace dsinfer
