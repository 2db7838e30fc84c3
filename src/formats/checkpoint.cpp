#include "formats/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dsinfer {
namespace {

namespace fs = std::filesystem;

// "<p>.weight" -> "<p>.scale": where the released V4 layout keeps a weight's scales.
std::string v4_scale_name(const std::string& weight_name) {
  constexpr std::string_view suffix = ".weight";
  if (weight_name.size() > suffix.size() && weight_name.ends_with(suffix))
    return weight_name.substr(0, weight_name.size() - suffix.size()) + ".scale";
  return weight_name + ".scale";
}

// The shard file names of a folder: from the index's weight_map when present,
// else model.safetensors, else every *.safetensors file.
Result<std::vector<std::string>> shard_files(const std::string& dir) {
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    std::ifstream in(index_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto index = nlohmann::json::parse(text.str(), nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return error("{}: expected a JSON object with a 'weight_map' object", index_path.string());
    std::set<std::string> files;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) return error("{}: weight_map entry '{}' is not a file name", index_path.string(), tensor);
      const std::string name = file.get<std::string>();
      if (name.find('/') != std::string::npos || name == ".." || name.empty())
        return error("{}: weight_map names file '{}' outside the model folder", index_path.string(), name);
      files.insert(name);
    }
    return std::vector<std::string>(files.begin(), files.end());
  }
  if (fs::exists(fs::path(dir) / "model.safetensors", ec)) return std::vector<std::string>{"model.safetensors"};
  std::vector<std::string> files;
  for (const auto& item : fs::directory_iterator(dir, ec))
    if (item.path().extension() == ".safetensors") files.push_back(item.path().filename().string());
  if (files.empty()) return error("{}: no model.safetensors, no index and no *.safetensors files", dir);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& model_dir) {
  auto checkpoint = std::unique_ptr<Checkpoint>(new Checkpoint());
  checkpoint->dir_ = model_dir;
  DSINFER_ASSIGN_OR_RETURN(checkpoint->config_, load_model_config(model_dir));
  DSINFER_ASSIGN_OR_RETURN(std::vector<std::string> files, shard_files(model_dir));
  for (const auto& file : files) DSINFER_RETURN_IF_ERROR(checkpoint->add_shard(file));
  if (checkpoint->config_.v4) DSINFER_RETURN_IF_ERROR(checkpoint->decode_ue8m0_scales());
  return checkpoint;
}

Status Checkpoint::decode_ue8m0_scales() {
  auto count_of = [](const Location& location) {
    int64_t count = 1;
    for (int64_t d : location.entry->shape) count *= d;
    return static_cast<size_t>(count);
  };
  auto codes_of = [](const Location& location) {
    return static_cast<const uint8_t*>(location.file->tensor_data(*location.entry));
  };
  for (const auto& [name, location] : tensors_)
    if (location.entry->dtype == DType::kF8E8M0 && std::memchr(codes_of(location), 0xFF, count_of(location)))
      return error("tensor '{}' holds the UE8M0 NaN code 0xFF in {}", name, location.file->path());
  // Only an FP8 matrix's scales, one per 128 x 128 block, are widened; the FP4 experts'
  // (one per 32 values) stay as stored (attach_v4_scales).
  for (const auto& [name, location] : tensors_) {
    if (location.entry->dtype != DType::kF8E4M3) continue;
    auto scales = tensors_.find(v4_scale_name(name));
    if (scales == tensors_.end() || scales->second.entry->dtype != DType::kF8E8M0) continue;
    std::vector<float>& values = ue8m0_scales_[scales->first];
    values.resize(count_of(scales->second));
    convert_to_f32(DType::kF8E8M0, codes_of(scales->second), values.data(), values.size());
  }
  return Status::ok();
}

Status Checkpoint::add_shard(const std::string& file_name) {
  DSINFER_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::open(dir_ + "/" + file_name));
  shards_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
  const SafetensorsFile* shard = shards_.back().get();
  for (const auto& [name, entry] : shard->header().tensors) {
    auto [it, inserted] = tensors_.emplace(name, Location{shard, &entry});
    tensor_bytes_ += static_cast<int64_t>(entry.end - entry.begin);
    if (!inserted)
      return error("tensor '{}' appears in both {} and {}", name, it->second.file->path(), shard->path());
  }
  return Status::ok();
}

std::optional<WeightView> Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return std::nullopt;
  const auto& [file, entry] = it->second;
  WeightView view;
  view.name = name;
  view.dtype = entry->dtype;
  view.shape = entry->shape;
  view.data = file->tensor_data(*entry);
  view.file_backed = true;
  view.model_bytes = tensor_bytes_;
  // The released V4 layout stores FP4 E2M1 routed experts as I8 [rows, cols / 2]: two
  // values per byte. The model asks for them by their logical shape.
  if (config_.v4 && view.dtype == DType::kI8 && view.shape.size() == 2 && tensors_.count(v4_scale_name(name))) {
    view.dtype = DType::kFP4E2M1;
    view.shape[1] *= 2;
  }
  return view;
}

Status Checkpoint::attach_v4_scales(WeightView& view) const {
  if (view.dtype != DType::kF8E4M3 && view.dtype != DType::kFP4E2M1) return Status::ok();
  const std::string scale_name = v4_scale_name(view.name);
  auto scales = find(scale_name);
  if (!scales) return error("{} tensor '{}' has no '{}' scales", dtype_name(view.dtype), view.name, scale_name);
  if (view.shape.size() != 2)
    return error("{} tensor '{}' must be 2-D, found {}", dtype_name(view.dtype), view.name, shape_to_string(view.shape));
  // FP8: weight_block_size blocks; FP4: one scale per 32 values of a row.
  const bool fp4 = view.dtype == DType::kFP4E2M1;
  const int64_t block_rows = fp4 ? 1 : config_.fp8->block_rows;
  const int64_t block_cols = fp4 ? 32 : config_.fp8->block_cols;
  const std::vector<int64_t> expected{(view.shape[0] + block_rows - 1) / block_rows,
                                      (view.shape[1] + block_cols - 1) / block_cols};
  auto decoded = ue8m0_scales_.find(scale_name);
  if (scales->dtype != DType::kF8E8M0 || (!fp4 && decoded == ue8m0_scales_.end()) || scales->shape != expected)
    return error("tensor '{}': expected {} f8_e8m0 for {}x{} blocks of {}, found {} {} in {}", scale_name,
                 shape_to_string(expected), block_rows, block_cols, shape_to_string(view.shape),
                 shape_to_string(scales->shape), dtype_name(scales->dtype), file_of(scale_name));
  view.scales = BlockScales{.data = fp4 ? nullptr : decoded->second.data(),
                            .block_rows = block_rows,
                            .block_cols = block_cols,
                            .stored_bytes = 1,
                            .ue8m0 = fp4 ? static_cast<const uint8_t*>(scales->data) : nullptr};
  return Status::ok();
}

Status Checkpoint::attach_scales(WeightView& view) const {
  if (config_.v4) return attach_v4_scales(view);
  if (view.dtype != DType::kF8E4M3) return Status::ok();
  const std::string scale_name = view.name + "_scale_inv";
  auto scales = find(scale_name);
  if (!scales) return error("FP8 tensor '{}' has no '{}' block scales", view.name, scale_name);
  if (view.shape.size() != 2) return error("FP8 tensor '{}' must be 2-D, found {}", view.name, shape_to_string(view.shape));
  const int64_t block_rows = config_.fp8 ? config_.fp8->block_rows : 128;
  const int64_t block_cols = config_.fp8 ? config_.fp8->block_cols : 128;
  const std::vector<int64_t> expected{(view.shape[0] + block_rows - 1) / block_rows,
                                      (view.shape[1] + block_cols - 1) / block_cols};
  if (scales->dtype != DType::kF32 || scales->shape != expected)
    return error("tensor '{}': expected {} f32 for {}x{} blocks of {}, found {} {} in {}", scale_name,
                 shape_to_string(expected), block_rows, block_cols, shape_to_string(view.shape),
                 shape_to_string(scales->shape), dtype_name(scales->dtype), file_of(scale_name));
  view.scales = BlockScales{static_cast<const float*>(scales->data), block_rows, block_cols};
  return Status::ok();
}

std::string Checkpoint::file_of(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? dir_ : it->second.file->path();
}

std::map<std::string, int64_t> Checkpoint::bytes_by_dtype() const {
  std::map<std::string, int64_t> bytes;
  for (const auto& [name, location] : tensors_)
    bytes[std::string(dtype_name(location.entry->dtype))] += static_cast<int64_t>(location.entry->end - location.entry->begin);
  return bytes;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, location] : tensors_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace dsinfer
