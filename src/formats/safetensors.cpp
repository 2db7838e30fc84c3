#include "formats/safetensors.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace dsinfer {
namespace {

using nlohmann::json;

// The format caps the header at 100 MB; real V3 shards have headers well under 1 MB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

Result<SafetensorsEntry> parse_entry(const std::string& name, const json& value, uint64_t data_size,
                                     const std::string& origin) {
  auto where = [&] { return fmt::format("{}: tensor '{}'", origin, name); };
  if (!value.is_object()) return error("{}: entry is not an object", where());
  auto dtype_it = value.find("dtype");
  auto shape_it = value.find("shape");
  auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string()) return error("{}: missing string 'dtype'", where());
  if (shape_it == value.end() || !shape_it->is_array()) return error("{}: missing array 'shape'", where());
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    return error("{}: 'data_offsets' must be [begin, end]", where());

  SafetensorsEntry entry;
  const std::string dtype_name = dtype_it->get<std::string>();
  auto dtype = dtype_from_safetensors(dtype_name);
  if (!dtype) return error("{}: unsupported dtype {}", where(), dtype_name);
  entry.dtype = *dtype;

  uint64_t numel = 1;
  for (const json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) return error("{}: shape {} has a negative or non-integer dimension", where(), shape_it->dump());
    const uint64_t d = dim.get<uint64_t>();
    if (d > (uint64_t{1} << 40) || (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d / 8))
      return error("{}: shape {} is too large", where(), shape_it->dump());
    numel *= d;
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  for (const json& offset : *offsets_it)
    if (!offset.is_number_unsigned()) return error("{}: data_offsets must be non-negative integers", where());
  entry.begin = (*offsets_it)[0].get<uint64_t>();
  entry.end = (*offsets_it)[1].get<uint64_t>();
  if (entry.begin > entry.end)
    return error("{}: data_offsets [{}, {}] begin after they end", where(), entry.begin, entry.end);
  if (entry.end > data_size)
    return error("{}: data_offsets [{}, {}] lie outside the {}-byte data section", where(), entry.begin, entry.end,
                 data_size);
  const uint64_t expected = numel * dtype_size(entry.dtype);
  if (entry.end - entry.begin != expected)
    return error("{}: shape {} {} needs {} bytes but data_offsets span {}", where(), shape_it->dump(), dtype_name,
                 expected, entry.end - entry.begin);
  return entry;
}

}  // namespace

Result<SafetensorsHeader> parse_safetensors_header(const uint8_t* bytes, size_t size, const std::string& origin) {
  if (size < 8) return error("{}: file is {} bytes, too short for a safetensors header", origin, size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes) return error("{}: header length {} is implausible (corrupt file?)", origin, header_len);
  if (header_len > size - 8)
    return error("{}: header length {} exceeds the file size {} (truncated file?)", origin, header_len, size);

  const char* text = reinterpret_cast<const char*>(bytes + 8);
  json root = json::parse(text, text + header_len, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return error("{}: header is not valid JSON", origin);
  if (!root.is_object()) return error("{}: header is not a JSON object", origin);

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  const uint64_t data_size = size - header.data_start;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return error("{}: __metadata__ is not an object", origin);
      for (const auto& [key, item] : value.items())
        if (item.is_string()) header.metadata[key] = item.get<std::string>();
      continue;
    }
    DSINFER_ASSIGN_OR_RETURN(SafetensorsEntry entry, parse_entry(name, value, data_size, origin));
    header.tensors.emplace(name, std::move(entry));
  }
  return header;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  SafetensorsFile result;
  DSINFER_ASSIGN_OR_RETURN(result.file_, MappedFile::open(path));
  DSINFER_ASSIGN_OR_RETURN(result.header_, parse_safetensors_header(result.file_.data(), result.file_.size(), path));
  return result;
}

Status write_safetensors(const std::string& path, const std::vector<SafetensorsTensorToWrite>& input,
                         const std::map<std::string, std::string>& metadata) {
  // The data section may have no holes, so tensors are aligned by their order instead:
  // most-aligned dtypes first (the reference writer also sorts by dtype). Every tensor's
  // size is a multiple of its alignment and the data section starts 8-aligned, so each
  // tensor then starts at a multiple of its element alignment in a mapping.
  auto alignment = [](DType dtype) {
    size_t a = 1;
    while (a < 8 && dtype_size(dtype) % (2 * a) == 0) a *= 2;
    return a;
  };
  std::vector<const SafetensorsTensorToWrite*> tensors;
  for (const auto& t : input) tensors.push_back(&t);
  std::stable_sort(tensors.begin(), tensors.end(),
                   [&](const auto* a, const auto* b) { return alignment(a->dtype) > alignment(b->dtype); });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* tensor : tensors) {
    const SafetensorsTensorToWrite& t = *tensor;
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    if (numel * dtype_size(t.dtype) != t.bytes.size())
      return error("write_safetensors: tensor {} has {} bytes, shape needs {}", t.name, t.bytes.size(),
                   numel * dtype_size(t.dtype));
    header[t.name] = {{"dtype", std::string(dtype_to_safetensors(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error("cannot create {}", path);
  uint8_t len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto* t : tensors) out.write(reinterpret_cast<const char*>(t->bytes.data()), static_cast<std::streamsize>(t->bytes.size()));
  if (!out) return error("failed writing {}", path);
  return Status::ok();
}

}  // namespace dsinfer
