#include "formats/npy.h"

#include <fstream>
#include <regex>
#include <cstring>
#include <sstream>

namespace dsinfer {

Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string shape_text = "(";
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    shape_text += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) shape_text += " ";
    count *= shape[i];
  }
  shape_text += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error("cannot create {}", path);
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
  if (!out) return error("failed writing {}", path);
  return Status::ok();
}

Result<NpyArray> read_npy_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return error("{}: not a .npy file", path);
  const size_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
  if (bytes[6] != 1 || 10 + header_len > bytes.size()) return error("{}: unsupported or truncated .npy header", path);
  const std::string header = bytes.substr(10, header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    return error("{}: expected a C-order little-endian float32 array", path);
  std::smatch shape_match;
  if (!std::regex_search(header, shape_match, std::regex(R"('shape': \(([0-9, ]*)\))")))
    return error("{}: .npy header has no shape", path);
  NpyArray array;
  int64_t count = 1;
  std::stringstream dims(shape_match[1].str());
  for (std::string dim; std::getline(dims, dim, ',');) {
    if (dim.find_first_not_of(' ') == std::string::npos) continue;
    array.shape.push_back(std::stoll(dim));
    count *= array.shape.back();
  }
  const size_t data_start = 10 + header_len;
  if (bytes.size() - data_start != static_cast<size_t>(count) * sizeof(float))
    return error("{}: data size does not match shape", path);
  array.data.resize(static_cast<size_t>(count));
  std::memcpy(array.data.data(), bytes.data() + data_start, bytes.size() - data_start);
  return array;
}

}  // namespace dsinfer
