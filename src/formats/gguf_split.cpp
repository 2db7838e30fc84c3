#include "formats/gguf_split.h"

#include <fmt/format.h>

#include <optional>
#include <regex>
#include <unordered_map>

namespace dsinfer {
namespace {

// gguf-split numbers shards with five digits, so there are at most 99,999.
constexpr int64_t kMaxShards = 99999;

struct SplitKeys {
  int64_t index = 0;  // split.no
  int64_t count = 1;  // split.count
};

// A shard's split.no and split.count; one shard of one when the file has neither.
Result<SplitKeys> split_keys(const GgufHeader& header, const std::string& path) {
  SplitKeys keys;
  const GgufValue* count = header.find("split.count");
  const GgufValue* index = header.find("split.no");
  if (!count && !index) return keys;
  const std::optional<int64_t> c = count ? count->as_int() : std::nullopt;
  const std::optional<int64_t> i = index ? index->as_int() : std::nullopt;
  if (!c || !i || count->type() == GgufValueType::kBool || index->type() == GgufValueType::kBool)
    return error("{}: split.no and split.count must both be integers", path);
  if (*c < 1 || *c > kMaxShards) return error("{}: split.count is {}, expected 1 to {}", path, *c, kMaxShards);
  if (*i < 0 || *i >= *c) return error("{}: split.no is {}, outside the {} shards of split.count", path, *i, *c);
  keys.index = *i;
  keys.count = *c;
  return keys;
}

}  // namespace

Result<GgufModelFiles> GgufModelFiles::open(const std::string& path) {
  GgufModelFiles files;
  DSINFER_ASSIGN_OR_RETURN(GgufFile first, GgufFile::open(path));
  DSINFER_ASSIGN_OR_RETURN(const SplitKeys first_keys, split_keys(first.header(), path));
  std::vector<std::string> paths = {path};
  if (first_keys.count > 1) {
    static const std::regex kShardName(R"((.*)-(\d{5})-of-(\d{5})\.gguf)");
    std::smatch m;
    const bool named = std::regex_match(path, m, kShardName);
    const std::string prefix = named ? m[1].str() : path;
    if (first_keys.index != 0)
      return error("{} is shard {} of {} of a split model: give the first shard{}", path, first_keys.index + 1,
                   first_keys.count,
                   named ? fmt::format(", {}-00001-of-{:05}.gguf", prefix, first_keys.count) : "");
    if (!named || std::stoll(m[2].str()) != 1 || std::stoll(m[3].str()) != first_keys.count)
      return error("{} is the first of {} shards, but its name does not end in -00001-of-{:05}.gguf, so the "
                   "others cannot be found (gguf-split names them PREFIX-0000i-of-{:05}.gguf)",
                   path, first_keys.count, first_keys.count, first_keys.count);
    for (int64_t i = 1; i < first_keys.count; ++i)
      paths.push_back(fmt::format("{}-{:05}-of-{:05}.gguf", prefix, i + 1, first_keys.count));
  }
  files.shards_.reserve(paths.size());
  files.shards_.push_back(std::move(first));
  for (size_t i = 1; i < paths.size(); ++i) {
    auto shard = GgufFile::open(paths[i]);
    if (!shard.is_ok())
      return shard.status().with_context(fmt::format("shard {} of {} of {}", i + 1, paths.size(), path));
    DSINFER_ASSIGN_OR_RETURN(const SplitKeys keys, split_keys(shard->header(), paths[i]));
    if (keys.index != static_cast<int64_t>(i) || keys.count != first_keys.count)
      return error("{}: split.no {} and split.count {}, expected {} and {} (shard {} of {})", paths[i], keys.index,
                   keys.count, i, first_keys.count, i + 1, first_keys.count);
    files.shards_.push_back(std::move(shard).value());
  }

  std::unordered_map<std::string_view, size_t> shard_of;
  for (size_t s = 0; s < files.shards_.size(); ++s) {
    const GgufFile& shard = files.shards_[s];
    for (const GgufTensorInfo& t : shard.header().tensors) {
      if (auto [it, fresh] = shard_of.emplace(t.name, s); !fresh)
        return error("tensor '{}' is in both {} and {}", t.name, files.shards_[it->second].path(), shard.path());
      files.tensors_.push_back({&t, shard.tensor_data(t), &shard.path()});
    }
  }
  if (first_keys.count > 1) {
    const GgufValue* expected = files.metadata().find("split.tensors.count");
    const std::optional<int64_t> n = expected ? expected->as_int() : std::nullopt;
    if (!n || *n != static_cast<int64_t>(files.tensors_.size()))
      return error("{}: split.tensors.count says {} tensors, and the {} shards hold {}", path,
                   n ? std::to_string(*n) : "nothing", files.shards_.size(), files.tensors_.size());
  }
  return files;
}

}  // namespace dsinfer
