// Reading tokenizer.json. The file is ~8 MB, nearly all of it model.vocab (128k entries)
// and model.merges (127k): building a JSON tree of those alone would take most of the
// 150 ms load budget. So the document is read with a SAX parser that streams vocab and
// merges straight into the BPE builder and keeps everything else as a small tree.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/bpe_model.h"

namespace dsinfer {

struct TokenizerJson {
  nlohmann::json document;  // the whole file except model.vocab and model.merges
  BpeModel::Builder bpe;    // model.vocab and model.merges, if they were object / list
  bool has_vocab = false;
  bool has_merges = false;
};

Result<TokenizerJson> read_tokenizer_json(std::string_view text);

}  // namespace dsinfer
