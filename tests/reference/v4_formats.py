"""Number formats of the DeepSeek-V4 / V3.2 checkpoints and their activation-quantisation
simulation, in numpy (for the dsinfer reference oracle).

Written from the format definitions and the official DeepSeek-V4-Flash `inference/kernel.py`
/ `inference/convert.py` behaviour (not from their code):

  * F8_E4M3 ("e4m3fn"): handled by safetensors_np (bias 7, max 448, no infinities).
  * F8_E8M0 ("UE8M0") scales: one unsigned exponent byte, value 2^(e - 127).
  * FP4 E2M1: s ee m, bias 1; values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
    Two per byte: the LOW nibble is element 2j, the HIGH nibble element 2j+1.
  * fake_quant: the kernels' quantise-then-dequantise ("inplace") path. Per block of the
    last axis: amax = max|x| floored (1e-4 for FP8, 6 * 2^-126 for FP4); with power-of-two
    scales s = 2^ceil(log2(amax / max_value)), computed in float32 as the kernels do
    (exponent field of the float32 product, +1 when the mantissa is non-zero); otherwise
    s = amax * (1 / max_value) in float32. q = round_to_nearest_even(clamp(x / s)); x' = q * s.
  * hadamard: Sylvester-ordered Walsh-Hadamard transform scaled by n^-0.5
    (fast_hadamard_transform.hadamard_transform(x, scale=n**-0.5)).
"""

from __future__ import annotations

import numpy as np

from safetensors_np import E4M3_TABLE

FP8_MAX = 448.0
FP4_MAX = 6.0
FP8_AMAX_FLOOR = 1e-4
FP4_AMAX_FLOOR = 6.0 * 2.0 ** -126

# non-negative finite grids, index == code (codes 0x00..0x7E of e4m3 increase with value)
E4M3_GRID = E4M3_TABLE[:0x7F].copy()
E2M1_GRID = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
# all 16 E2M1 codes: bit 3 is the sign
E2M1_TABLE = np.concatenate([E2M1_GRID, -E2M1_GRID])


def decode_fp4_packed(u8: np.ndarray) -> np.ndarray:
    """Packed FP4 bytes [rows, cols/2] (stored as I8 or U8) -> float64 [rows, cols].
    Byte j of a row holds element 2j in its low nibble and element 2j+1 in its high nibble."""
    b = np.asarray(u8).astype(np.int64) & 0xFF
    lo = E2M1_TABLE[b & 0x0F]
    hi = E2M1_TABLE[(b >> 4) & 0x0F]
    out = np.empty(b.shape[:-1] + (2 * b.shape[-1],))
    out[..., 0::2] = lo
    out[..., 1::2] = hi
    return out


def encode_fp4_packed(codes: np.ndarray) -> np.ndarray:
    """Inverse of decode_fp4_packed for 4-bit codes [rows, cols] -> int8 bytes [rows, cols/2]."""
    c = np.asarray(codes, dtype=np.int64)
    b = (c[..., 0::2] & 0x0F) | ((c[..., 1::2] & 0x0F) << 4)
    return b.astype(np.uint8).view(np.int8)


def _neighbour_index(a, grid):
    """i such that grid[i - 1] and grid[i] are the grid points around a (clamped at the ends)."""
    return np.clip(np.searchsorted(grid, a, side="left"), 1, grid.shape[0] - 1)


def round_to_grid(a: np.ndarray, grid: np.ndarray):
    """Round non-negative values to the nearest grid point, ties to the even code
    (IEEE round-to-nearest-even for a small float format whose code == grid index).
    Values above the grid saturate to its last point. Returns (values, codes)."""
    a = np.asarray(a, dtype=np.float64)
    n = grid.shape[0]
    i = _neighbour_index(a, grid)
    lo, hi = grid[i - 1], grid[i]
    d_lo, d_hi = a - lo, hi - a
    pick_lo = (d_lo < d_hi) | ((d_lo == d_hi) & ((i - 1) % 2 == 0))
    code = np.where(pick_lo, i - 1, i)
    code = np.where(a >= grid[-1], n - 1, code)
    return grid[code], code


def quantize_e4m3(x: np.ndarray) -> np.ndarray:
    """float -> nearest F8_E4M3 value (ties to even, saturating at +-448)."""
    v, _ = round_to_grid(np.abs(x), E4M3_GRID)
    return np.copysign(v, x)


def quantize_e2m1(x: np.ndarray) -> np.ndarray:
    """float -> nearest FP4 E2M1 value (ties to even, saturating at +-6)."""
    v, _ = round_to_grid(np.abs(x), E2M1_GRID)
    return np.copysign(v, x)


def pow2_scale(amax: np.ndarray, max_value: float, floor: float) -> np.ndarray:
    """2^ceil(log2(max(amax, floor) / max_value)), with the product taken in float32
    as the kernels do (ceil from the float32 exponent/mantissa bits)."""
    a = np.maximum(np.asarray(amax, dtype=np.float64), floor).astype(np.float32)
    v = (a * np.float32(1.0 / max_value)).astype(np.float32)
    bits = v.view(np.uint32)
    e = ((bits >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int64)
    m = bits & np.uint32(0x7FFFFF)
    k = e - 127 + (m != 0).astype(np.int64)
    return np.exp2(k.astype(np.float64))


def linear_scale(amax: np.ndarray, max_value: float, floor: float) -> np.ndarray:
    """amax * (1 / max_value) in float32 (kernel scale without scale_fmt)."""
    a = np.maximum(np.asarray(amax, dtype=np.float64), floor).astype(np.float32)
    return (a * np.float32(1.0 / max_value)).astype(np.float64)


# Rounding margins, for telling a rounding flip from a bug when an engine computing in
# float32 differs from this float64 oracle. When MARGINS is a list, every labelled
# fake_quant appends, per row, (margin, label, position, element): the smallest relative
# distance |v - t| / |v| of a value from a threshold t where float32 noise could change the
# result, with the element (flat index in the row) it belongs to, or -1 when the threshold
# is a block scale's (amax / max_value at a power of two). FLIPS holds (label, position,
# element) whose code is taken the other way: the code on the other side of the midpoint.
MARGINS = None
FLIPS = frozenset()


def _neighbours(a, grid):
    i = _neighbour_index(a, grid)
    return grid[i - 1], grid[i]


def _record_margins(scaled, amax_over_max, grid, label, positions):
    a = np.abs(scaled)
    lo, hi = _neighbours(a, grid)
    element = np.where(a >= grid[-1], np.inf, np.abs(a - (lo + hi) / 2) / np.maximum(a, 1e-300))
    element = element.reshape(element.shape[0], -1)
    ratio = np.asarray(amax_over_max, dtype=np.float64)
    scale = np.abs(ratio / np.exp2(np.round(np.log2(np.maximum(ratio, 1e-300)))) - 1)
    scale = scale.reshape(scale.shape[0], -1).min(axis=1)
    for r in range(element.shape[0]):
        position = int(positions[r]) if positions is not None else r
        e = int(np.argmin(element[r]))
        MARGINS.append((float(element[r, e]), label, position, e))
        MARGINS.append((float(scale[r]), label, position, -1))


def _apply_flips(q, scaled, grid, label, positions):
    """q with the codes named in FLIPS for this label moved across their midpoint."""
    flat = q.reshape(q.shape[0], -1)
    values = np.abs(scaled.reshape(flat.shape))
    for flip_label, position, e in FLIPS:
        if flip_label != label or e < 0 or positions is None:
            continue
        for r in np.nonzero(np.asarray(positions) == position)[0]:
            lo, hi = _neighbours(values[r, e], grid)
            other = hi if abs(flat[r, e]) == lo else lo
            flat[r, e] = np.copysign(other, scaled.reshape(flat.shape)[r, e])
    return flat.reshape(q.shape)


def fake_quant(x: np.ndarray, block: int, fmt: str = "e4m3", pow2: bool = True, label=None,
               positions=None) -> np.ndarray:
    """Quantise-dequantise x in blocks of `block` along the last axis (a partial last
    block is allowed: it is padded with zeros, which do not change its amax).
    fmt: 'e4m3' (FP8, max 448) or 'e2m1' (FP4, max 6; always power-of-two scales).
    label / positions (of axis 0): where MARGINS records this rounding."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n == 0:
        return x.copy()
    nb = -(-n // block)
    pad = nb * block - n
    xp = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,))], axis=-1) if pad else x
    xb = xp.reshape(x.shape[:-1] + (nb, block))
    amax = np.max(np.abs(xb), axis=-1, keepdims=True)
    if fmt == "e4m3":
        s = pow2_scale(amax, FP8_MAX, FP8_AMAX_FLOOR) if pow2 else linear_scale(amax, FP8_MAX, FP8_AMAX_FLOOR)
        q = quantize_e4m3(np.clip(xb / s, -FP8_MAX, FP8_MAX))
        grid, max_value = E4M3_GRID, FP8_MAX
    elif fmt == "e2m1":
        s = pow2_scale(amax, FP4_MAX, FP4_AMAX_FLOOR)
        q = quantize_e2m1(np.clip(xb / s, -FP4_MAX, FP4_MAX))
        grid, max_value = E2M1_GRID, FP4_MAX
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if label is not None and (MARGINS is not None or FLIPS):
        scaled = np.clip(xb / s, -max_value, max_value)
        if MARGINS is not None:
            _record_margins(scaled, amax / max_value if pow2 else np.ones_like(amax), grid, label, positions)
        if FLIPS:
            q = _apply_flips(q, scaled, grid, label, positions)
    return (q * s).reshape(xp.shape)[..., :n]


def hadamard(x: np.ndarray) -> np.ndarray:
    """Walsh-Hadamard transform along the last axis (length a power of two), Sylvester
    order H[i, j] = (-1)^popcount(i & j), scaled by n^-0.5 (so it is orthonormal)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n & (n - 1):
        raise ValueError(f"Hadamard transform needs a power-of-two length, got {n}")
    lead = x.shape[:-1]
    y = x.reshape(-1, n).copy()
    h = 1
    while h < n:
        y = y.reshape(-1, n // (2 * h), 2, h)
        a, b = y[:, :, 0, :], y[:, :, 1, :]
        y = np.stack([a + b, a - b], axis=2).reshape(-1, n)
        h *= 2
    return (y * n ** -0.5).reshape(lead + (n,))
