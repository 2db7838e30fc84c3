#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using nlohmann::json;

Result<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return error("cannot open {}", path);
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return error("cannot read {}", path);
  return text;
}

const json* field(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string type_of(const json& spec) {
  const json* type = spec.is_object() ? field(spec, "type") : nullptr;
  return type && type->is_string() ? type->get<std::string>() : std::string("(no type)");
}

// dsinfer applies no normalization, so only normalizers that do nothing are accepted.
Status check_normalizer(const json* spec) {
  if (!spec) return Status::ok();
  const std::string type = type_of(*spec);
  if (type == "Sequence") {
    const json* list = field(*spec, "normalizers");
    if (!list || !list->is_array()) return error("normalizer Sequence: 'normalizers' must be a list");
    for (const json& item : *list) DSINFER_RETURN_IF_ERROR(check_normalizer(&item));
    return Status::ok();
  }
  return error("normalizer type '{}' is not supported", type);
}

// Returns whether the decoder is ByteLevel (false: none, tokens joined with spaces).
Result<bool> check_decoder(const json* spec) {
  if (!spec) return false;
  const std::string type = type_of(*spec);
  if (type == "ByteLevel") return true;
  if (type == "Sequence") {
    const json* list = field(*spec, "decoders");
    if (list && list->is_array() && list->size() == 1 && type_of((*list)[0]) == "ByteLevel") return true;
  }
  return error("decoder type '{}' is not supported (supported: ByteLevel)", type);
}

Status check_post_processor(const json* spec, std::vector<std::string>& warnings) {
  if (!spec) return Status::ok();
  const std::string type = type_of(*spec);
  if (type == "ByteLevel") return Status::ok();  // offsets only
  if (type == "TemplateProcessing") {
    warnings.push_back(
        "post_processor TemplateProcessing is not applied: BOS/EOS come from tokenizer_config.json "
        "(add_bos_token, add_eos_token), as transformers' LlamaTokenizerFast does");
    return Status::ok();
  }
  if (type == "Sequence") {
    const json* list = field(*spec, "processors");
    if (!list || !list->is_array()) return error("post_processor Sequence: 'processors' must be a list");
    for (const json& item : *list) DSINFER_RETURN_IF_ERROR(check_post_processor(&item, warnings));
    return Status::ok();
  }
  return error("post_processor type '{}' is not supported", type);
}

Result<BpeOptions> bpe_options(const json& model) {
  BpeOptions options;
  if (const json* type = field(model, "type"); type && (!type->is_string() || *type != "BPE"))
    return error("model type '{}' is not supported (only BPE)", type->is_string() ? type->get<std::string>() : "?");
  if (const json* dropout = field(model, "dropout"); dropout && !(dropout->is_number() && dropout->get<double>() == 0.0))
    return error("model.dropout (BPE dropout) is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const json* v = field(model, key); v && !(v->is_string() && v->get_ref<const std::string&>().empty()))
      return error("model.{} is not supported", key);
  }
  auto flag = [&](const char* key) -> Result<bool> {
    const json* v = field(model, key);
    if (!v) return false;
    if (!v->is_boolean()) return error("model.{} must be true or false", key);
    return v->get<bool>();
  };
  DSINFER_ASSIGN_OR_RETURN(bool byte_fallback, flag("byte_fallback"));
  if (byte_fallback) return error("model.byte_fallback is not supported");
  DSINFER_ASSIGN_OR_RETURN(options.fuse_unk, flag("fuse_unk"));
  DSINFER_ASSIGN_OR_RETURN(options.ignore_merges, flag("ignore_merges"));
  if (const json* unk = field(model, "unk_token")) {
    if (!unk->is_string()) return error("model.unk_token must be a string");
    options.unk_token = unk->get<std::string>();
  }
  return options;
}

// Appends the ids of each pre-tokenized piece.
class BpeSink final : public PieceSink {
 public:
  BpeSink(const BpeModel& model, BpeScratch& scratch, std::vector<TokenId>& out)
      : model_(model), scratch_(scratch), out_(out) {}
  void piece(std::string_view text) override { model_.encode_word(text, scratch_, out_); }

 private:
  const BpeModel& model_;
  BpeScratch& scratch_;
  std::vector<TokenId>& out_;
};

}  // namespace

Result<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  const std::string json_path = model_dir + "/tokenizer.json";
  TokenizerConfig config;
  if (std::filesystem::exists(model_dir + "/tokenizer_config.json")) {
    DSINFER_ASSIGN_OR_RETURN(config, load_tokenizer_config(model_dir));
  }
  DSINFER_ASSIGN_OR_RETURN(std::string text, read_file(json_path));
  return from_json(text, std::move(config), json_path);
}

Result<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, TokenizerConfig config, std::string_view origin) {
  auto fail = [&](const Status& status) { return status.with_context(std::string(origin)); };
  auto parsed = read_tokenizer_json(tokenizer_json);
  if (!parsed.is_ok()) return fail(parsed.status());
  TokenizerJson& file = parsed.value();
  const json& doc = file.document;

  Tokenizer tok;
  tok.config_ = std::move(config);
  std::random_device entropy;
  tok.instance_id_ = (uint64_t(entropy()) << 32 | entropy()) | 1;  // never 0, the fresh scratch's owner
  if (const json* version = field(doc, "version"); version && *version != "1.0")
    return fail(error("tokenizer.json version {} is not supported (only 1.0)", version->dump()));
  if (field(doc, "truncation")) return fail(error("truncation is not supported"));
  if (field(doc, "padding")) return fail(error("padding is not supported"));
  if (Status s = check_normalizer(field(doc, "normalizer")); !s.is_ok()) return fail(s);

  const json* model = field(doc, "model");
  if (!model || !model->is_object()) return fail(error("missing 'model'"));
  auto options = bpe_options(*model);
  if (!options.is_ok()) return fail(options.status());
  if (!file.has_vocab || !file.has_merges)
    return fail(error("model: BPE needs 'vocab' (an object) and 'merges' (a list)"));

  auto pretokenizer = PreTokenizer::from_json(doc.value("pre_tokenizer", json(nullptr)));
  if (!pretokenizer.is_ok()) return fail(pretokenizer.status());
  tok.pretokenizer_ = std::move(pretokenizer).value();
  options->byte_level = tok.pretokenizer_.byte_level();

  auto bpe = std::move(file.bpe).build(*options);
  if (!bpe.is_ok()) return fail(bpe.status());
  tok.model_ = std::move(bpe).value();

  auto lookup = [&](std::string_view content) { return tok.model_.token_to_id(content); };
  auto added = AddedVocabulary::from_json(doc.value("added_tokens", json(nullptr)), lookup, tok.model_.vocab_size(),
                                          tok.warnings_);
  if (!added.is_ok()) return fail(added.status());
  tok.added_ = std::move(added).value();

  auto decoder = check_decoder(field(doc, "decoder"));
  if (!decoder.is_ok()) return fail(decoder.status());
  if (Status s = check_post_processor(field(doc, "post_processor"), tok.warnings_); !s.is_ok()) return fail(s);
  if (Status s = tok.build_decoder_table(*decoder); !s.is_ok()) return fail(s);

  // BOS / EOS for EncodeOptions::add_special_tokens.
  auto special_id = [&](const std::optional<std::string>& content, bool needed,
                        const char* name) -> Result<std::optional<TokenId>> {
    if (!content) {
      if (needed) return error("tokenizer_config.json sets add_{}_token but no {}_token", name, name);
      return std::optional<TokenId>{};
    }
    std::optional<TokenId> id = tok.token_to_id(*content);
    if (!id && needed) return error("tokenizer_config.json: {}_token \"{}\" is not a token", name, *content);
    return id;
  };
  auto bos = special_id(tok.config_.bos_token, tok.config_.add_bos_token, "bos");
  if (!bos.is_ok()) return fail(bos.status());
  tok.bos_id_ = *bos;
  auto eos = special_id(tok.config_.eos_token, tok.config_.add_eos_token, "eos");
  if (!eos.is_ok()) return fail(eos.status());
  tok.eos_id_ = *eos;
  return tok;
}

std::vector<TokenId> Tokenizer::end_of_generation() const {
  std::vector<TokenId> ids;
  if (eos_id_) ids.push_back(*eos_id_);
  ids.insert(ids.end(), more_end_of_generation_.begin(), more_end_of_generation_.end());
  return ids;
}

bool Tokenizer::ends_generation(TokenId id) const {
  return (eos_id_ && id == *eos_id_) ||
         std::find(more_end_of_generation_.begin(), more_end_of_generation_.end(), id) != more_end_of_generation_.end();
}

void Tokenizer::add_end_of_generation(TokenId id) {
  if (!ends_generation(id)) more_end_of_generation_.push_back(id);
}

Status Tokenizer::build_decoder_table(bool byte_level_decoder) {
  join_with_spaces_ = !byte_level_decoder;
  TokenId max_id = model_.max_id();
  for (const AddedToken& t : added_.tokens()) max_id = std::max(max_id, t.id);
  const size_t count = size_t(max_id) + 1;
  decoded_offsets_.assign(count + 1, 0);
  exists_.assign(count, false);
  special_.assign(count, false);
  decoded_.reserve(count * 8);
  for (size_t id = 0; id < count; ++id) {
    decoded_offsets_[id] = uint32_t(decoded_.size());
    // HF: an added token's content first, else the model's vocabulary string.
    std::string_view text;
    if (const AddedToken* t = added_.token(TokenId(id))) {
      text = t->content;
    } else {
      text = model_.id_to_token(TokenId(id));
      if (text.empty()) continue;  // no token has this id
    }
    exists_[id] = true;
    special_[id] = added_.is_special_content(text);
    // ByteLevel decoder: a token in the byte alphabet stands for those bytes; one with
    // any other character (an added token) for its own UTF-8.
    if (!byte_level_decoder || !append_bytes_from_byte_level(text, decoded_)) decoded_.append(text);
  }
  decoded_offsets_[count] = uint32_t(decoded_.size());
  if (decoded_.size() > UINT32_MAX) return error("vocabulary too large");
  return Status::ok();
}

Result<std::vector<TokenId>> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  EncodeScratch scratch;
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  DSINFER_RETURN_IF_ERROR(encode(text, options, scratch, ids));
  return ids;
}

Status Tokenizer::encode(std::string_view text, const EncodeOptions& options, EncodeScratch& scratch,
                         std::vector<TokenId>& out) const {
  if (std::optional<size_t> bad = find_invalid_utf8(text))
    return error("input is not valid UTF-8 (byte offset {})", *bad);
  if (scratch.owner != instance_id_) {
    scratch.bpe = BpeScratch{};
    scratch.owner = instance_id_;
  }
  if (options.add_special_tokens && config_.add_bos_token && bos_id_) out.push_back(*bos_id_);
  BpeSink sink(model_, scratch.bpe, out);
  if (added_.empty()) {
    DSINFER_RETURN_IF_ERROR(pretokenizer_.split(text, scratch.pretokenizer, sink));
  } else {
    added_.split(text, options.match_special_tokens, scratch.pretokenizer.regex, scratch.segments);
    for (const AddedVocabulary::Segment& s : scratch.segments) {
      if (s.id >= 0) {
        out.push_back(s.id);
      } else {
        DSINFER_RETURN_IF_ERROR(pretokenizer_.split(text.substr(s.begin, s.end - s.begin), scratch.pretokenizer, sink));
      }
    }
  }
  if (options.add_special_tokens && config_.add_eos_token && eos_id_) out.push_back(*eos_id_);
  return Status::ok();
}

std::optional<std::string_view> Tokenizer::token_bytes(TokenId id) const {
  if (id < 0 || size_t(id) >= exists_.size() || !exists_[id]) return std::nullopt;
  return std::string_view(decoded_).substr(decoded_offsets_[id], decoded_offsets_[id + 1] - decoded_offsets_[id]);
}

bool Tokenizer::is_special(TokenId id) const { return id >= 0 && size_t(id) < special_.size() && special_[id]; }

Result<std::string> Tokenizer::decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string bytes;
  bool first = true;
  for (TokenId id : ids) {
    std::optional<std::string_view> piece = token_bytes(id);
    if (!piece) return error("token id {} is not in the vocabulary (size {})", id, vocab_size());
    if (options.skip_special_tokens && is_special(id)) continue;
    if (join_with_spaces_ && !first) bytes.push_back(' ');
    bytes.append(*piece);
    first = false;
  }
  std::string text;
  text.reserve(bytes.size());
  append_utf8_lossy(bytes, /*final_chunk=*/true, text);
  return text;
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* t = added_.token(id)) return t->content;
  std::string_view text = model_.id_to_token(id);
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  if (std::optional<TokenId> id = added_.find(token)) return id;
  return model_.token_to_id(token);
}

}  // namespace dsinfer
