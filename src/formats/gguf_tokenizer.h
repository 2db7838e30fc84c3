// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) as llama.cpp's
// tokenizer.ggml.* GGUF metadata, the way convert_hf_to_gguf.py writes a byte-level BPE:
// model "gpt2", tokens by id (padded to the model's vocab_size with unused "[PADn]"),
// token types (1 normal, 3 control = special added tokens, 4 user-defined = other added
// tokens, 5 unused), merges "a b", BOS/EOS ids, add_bos/add_eos, the chat template, and
// tokenizer.ggml.pre chosen from the pre-tokenizer's split patterns ("deepseek-v3",
// "deepseek-llm", else "default" with a warning).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace dsinfer {

// Adds the tokenizer of `model_dir` to `writer`. Returns false and writes nothing when
// the folder has no tokenizer.json; fails when the files are malformed or hold ids at
// or beyond `vocab_size`.
Result<bool> add_hf_tokenizer_metadata(const std::string& model_dir, int64_t vocab_size, GgufWriter& writer,
                                       std::vector<std::string>& warnings);

}  // namespace dsinfer
