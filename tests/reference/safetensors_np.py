"""Minimal safetensors reader in pure numpy, for the dsinfer reference oracle.

Independent of the C++ engine: written from the safetensors format description
(8-byte little-endian header length N, N bytes of JSON header, then the data
buffer; each tensor's data_offsets [begin, end) are relative to the start of the
data buffer, i.e. to byte 8 + N of the file).

Supported dtypes: F64, F32, F16, BF16, F8_E4M3 (the last with optional
`<name>_scale_inv` block scales, see `dequant_blockwise`), and for the DeepSeek-V4
layout also F8_E8M0 (power-of-two scales), I8 / U8 (packed FP4 bytes), I32 / I64
(index tables). `Checkpoint.get` decodes F8_E8M0 to its value and returns integer
tensors as exact float64; `SafetensorsFile.raw` gives the stored integers.

Everything returned by `Checkpoint.get` is float64.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np


class CheckpointError(Exception):
    """Any problem with the model files: missing tensor, bad header, bad shape."""


# ---------------------------------------------------------------------------
# Scalar formats
# ---------------------------------------------------------------------------

def decode_bf16(u16: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32: the bf16 bits are the high
    half of an IEEE float32."""
    u16 = np.asarray(u16, dtype=np.uint16)
    return (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _build_e4m3_table() -> np.ndarray:
    """Value of every F8_E4M3 ("e4m3fn") byte, decoded from its bits.

    Layout: s eeee mmm, exponent bias 7.
      e == 0          : subnormal, (m / 8) * 2^(1 - 7)
      e in 1..15      : normal, (1 + m / 8) * 2^(e - 7)
      e == 15, m == 7 : NaN (0x7F and 0xFF); there are no infinities,
                        so 0x7E = 448 is the largest finite value.
    """
    table = np.empty(256, dtype=np.float64)
    for b in range(256):
        sign = -1.0 if (b >> 7) & 1 else 1.0
        e = (b >> 3) & 0xF
        m = b & 0x7
        if e == 0xF and m == 0x7:
            table[b] = np.nan
        elif e == 0:
            table[b] = sign * (m / 8.0) * 2.0 ** (1 - 7)
        else:
            table[b] = sign * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return table


E4M3_TABLE = _build_e4m3_table()


def decode_f8_e4m3(u8: np.ndarray) -> np.ndarray:
    """F8_E4M3 bytes (uint8) -> float64 through the 256-entry table."""
    return E4M3_TABLE[np.asarray(u8, dtype=np.uint8)]


def decode_e8m0(u8: np.ndarray) -> np.ndarray:
    """F8_E8M0 ("UE8M0") bytes -> float64: an unsigned biased exponent, value 2^(e - 127);
    0xFF is NaN. There is no sign and no mantissa."""
    e = np.asarray(u8, dtype=np.uint8).astype(np.float64)
    return np.where(e == 255, np.nan, np.exp2(e - 127.0))


def dequant_blockwise(w: np.ndarray, scale_inv: np.ndarray, block: tuple[int, int],
                      name: str = "?") -> np.ndarray:
    """real[i, j] = w[i, j] * scale_inv[i // br, j // bc]; edge blocks may be partial,
    so scale_inv must have shape [ceil(R / br), ceil(C / bc)]."""
    if w.ndim != 2:
        raise CheckpointError(f"{name}: block-quantized tensor must be 2-D, found shape {list(w.shape)}")
    br, bc = block
    rows, cols = w.shape
    want = (-(-rows // br), -(-cols // bc))
    if tuple(scale_inv.shape) != want:
        raise CheckpointError(
            f"{name}_scale_inv: expected shape {list(want)} for weight {list(w.shape)} "
            f"with block {[br, bc]}, found {list(scale_inv.shape)}")
    full = np.repeat(np.repeat(scale_inv, br, axis=0), bc, axis=1)[:rows, :cols]
    return w * full


# ---------------------------------------------------------------------------
# File level
# ---------------------------------------------------------------------------

# dtype name -> (numpy storage dtype, bytes per element)
_STORAGE = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "F8_E4M3": (np.dtype("u1"), 1),
    "F8_E8M0": (np.dtype("u1"), 1),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "I32": (np.dtype("<i4"), 4),
    "I64": (np.dtype("<i8"), 8),
}


class SafetensorsFile:
    """One .safetensors file, memory-mapped; tensors decoded on request."""

    def __init__(self, path: str):
        self.path = path
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise CheckpointError(f"cannot open {path}: {e}") from e
        if size < 8:
            raise CheckpointError(f"{path}: file too short for a safetensors header ({size} bytes)")
        with open(path, "rb") as f:
            (hlen,) = struct.unpack("<Q", f.read(8))
            if hlen > size - 8:
                raise CheckpointError(f"{path}: header length {hlen} exceeds file size {size}")
            raw = f.read(hlen)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: header is not valid JSON: {e}") from e
        if not isinstance(header, dict):
            raise CheckpointError(f"{path}: header is not a JSON object")
        header.pop("__metadata__", None)
        self.data_start = 8 + hlen
        data_len = size - self.data_start
        self.entries = {}
        for name, info in header.items():
            try:
                dtype = info["dtype"]
                shape = [int(d) for d in info["shape"]]
                begin, end = (int(v) for v in info["data_offsets"])
            except (KeyError, TypeError, ValueError) as e:
                raise CheckpointError(f"{path}: malformed header entry for {name!r}: {e}") from e
            if not (0 <= begin <= end <= data_len):
                raise CheckpointError(
                    f"{path}: tensor {name} data_offsets [{begin}, {end}] outside data buffer of {data_len} bytes")
            if any(d < 0 for d in shape):
                raise CheckpointError(f"{path}: tensor {name} has negative dim in shape {shape}")
            if dtype in _STORAGE:
                want = int(np.prod(shape, dtype=np.int64)) * _STORAGE[dtype][1]
                if end - begin != want:
                    raise CheckpointError(
                        f"{path}: tensor {name} {dtype}{shape} needs {want} bytes, data_offsets give {end - begin}")
            self.entries[name] = (dtype, shape, begin, end)
        self._mm = None

    def _map(self):
        if self._mm is None:
            self._mm = np.memmap(self.path, dtype=np.uint8, mode="r")
        return self._mm

    def names(self):
        return list(self.entries)

    def raw(self, name: str):
        """(dtype name, storage array with the tensor's shape)."""
        dtype, shape, begin, end = self.entries[name]
        if dtype not in _STORAGE:
            raise CheckpointError(
                f"{self.path}: tensor {name} has unsupported dtype {dtype} "
                f"(supported: {', '.join(_STORAGE)})")
        np_dtype, _ = _STORAGE[dtype]
        buf = self._map()[self.data_start + begin:self.data_start + end]
        arr = np.frombuffer(buf.tobytes(), dtype=np_dtype).reshape(shape)
        return dtype, arr


def to_float64(dtype: str, arr: np.ndarray) -> np.ndarray:
    if dtype == "BF16":
        return decode_bf16(arr).astype(np.float64)
    if dtype == "F8_E4M3":
        return decode_f8_e4m3(arr)
    if dtype == "F8_E8M0":
        return decode_e8m0(arr)
    return arr.astype(np.float64)


class Checkpoint:
    """A Hugging Face model folder: model.safetensors, or shards listed in
    model.safetensors.index.json, or (fallback) every *.safetensors in the folder.

    get(name) returns a float64 array with FP8 block scales applied."""

    def __init__(self, folder: str, weight_block_size=(128, 128)):
        self.folder = folder
        self.block = tuple(int(b) for b in weight_block_size)
        if len(self.block) != 2 or min(self.block) <= 0:
            raise CheckpointError(f"weight_block_size must be two positive ints, got {weight_block_size}")
        self.files = {}      # path -> SafetensorsFile
        self.where = {}      # tensor name -> SafetensorsFile
        index = os.path.join(folder, "model.safetensors.index.json")
        single = os.path.join(folder, "model.safetensors")
        if os.path.isfile(index):
            try:
                with open(index, "r", encoding="utf-8") as f:
                    weight_map = json.load(f)["weight_map"]
            except (OSError, KeyError, json.JSONDecodeError) as e:
                raise CheckpointError(f"{index}: cannot read weight_map: {e}") from e
            for name, fname in weight_map.items():
                sf = self._open(os.path.join(folder, fname))
                if name not in sf.entries:
                    raise CheckpointError(f"{index} maps {name} to {fname}, which does not contain it")
                self.where[name] = sf
        else:
            if os.path.isfile(single):
                paths = [single]
            else:
                paths = sorted(os.path.join(folder, p) for p in os.listdir(folder)
                               if p.endswith(".safetensors"))
            if not paths:
                raise CheckpointError(f"{folder}: no model.safetensors, index, or *.safetensors files")
            for p in paths:
                sf = self._open(p)
                for name in sf.entries:
                    if name in self.where:
                        raise CheckpointError(f"tensor {name} appears in both {self.where[name].path} and {p}")
                    self.where[name] = sf
        self._cache = {}

    def _open(self, path):
        if path not in self.files:
            self.files[path] = SafetensorsFile(path)
        return self.files[path]

    def has(self, name: str) -> bool:
        return name in self.where

    def names(self):
        return list(self.where)

    def shape(self, name: str):
        return list(self.where[name].entries[name][1])

    def raw(self, name: str):
        """(dtype name, stored array) without any decoding or scaling."""
        if name not in self.where:
            raise CheckpointError(f"missing tensor {name} in {self.folder}")
        return self.where[name].raw(name)

    def get(self, name: str) -> np.ndarray:
        if name in self._cache:
            return self._cache[name]
        if name not in self.where:
            raise CheckpointError(f"missing tensor {name} in {self.folder}")
        sf = self.where[name]
        dtype, arr = sf.raw(name)
        val = to_float64(dtype, arr)
        scale_name = name + "_scale_inv"
        if dtype == "F8_E4M3":
            if not self.has(scale_name):
                raise CheckpointError(f"{name} is F8_E4M3 but {scale_name} is missing ({sf.path})")
            sdt, sarr = self.where[scale_name].raw(scale_name)
            val = dequant_blockwise(val, to_float64(sdt, sarr), self.block, name)
            if np.isnan(val).any():
                raise CheckpointError(f"{name}: contains NaN (fp8 code 0x7F/0xFF or NaN scale) in {sf.path}")
        elif self.has(scale_name):
            raise CheckpointError(f"{scale_name} present but {name} is {dtype}, not F8_E4M3")
        self._cache[name] = val
        return val
