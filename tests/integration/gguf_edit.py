"""A GGUF file's metadata as a Python list, and the file written back with edited metadata.

Written from the GGUF specification (ggml's docs/gguf.md): a header (magic, version,
tensor count, metadata count), typed key-value pairs, tensor infos, padding to
general.alignment, then the tensor data. Tensor offsets count from the data's start, so
the tensor infos and the data are carried over as bytes while the metadata changes.
"""
import struct

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
           BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


class _Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take("<Q")
        self.at += n
        return self.data[self.at - n:self.at].decode("utf-8")

    def value(self, kind):
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            element, n = self.take("<I"), self.take("<Q")
            return (element, [self.value(element) for _ in range(n)])
        return self.take(_SCALAR[kind])


def _string(text):
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _value(kind, value):
    if kind == STRING:
        return _string(value)
    if kind == ARRAY:
        element, items = value
        return struct.pack("<IQ", element, len(items)) + b"".join(_value(element, v) for v in items)
    return struct.pack(_SCALAR[kind], value)


class GgufFile:
    """metadata: [(key, type, value)], an array's value being (element type, [values])."""

    def __init__(self, data):
        r = _Reader(data)
        if data[:4] != b"GGUF":
            raise ValueError("not a GGUF file")
        r.at = 4
        self.version, self.n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
        self.metadata = []
        for _ in range(n_kv):
            key, kind = r.string(), r.take("<I")
            self.metadata.append((key, kind, r.value(kind)))
        infos_start = r.at
        for _ in range(self.n_tensors):
            r.string()
            n_dims = r.take("<I")
            r.at += 8 * n_dims + 4 + 8
        self.tensor_infos = data[infos_start:r.at]
        alignment = self.get("general.alignment", 32)
        self.data = data[(r.at + alignment - 1) // alignment * alignment:]

    def get(self, key, default=None):
        return next((value for k, _, value in self.metadata if k == key), default)

    def to_bytes(self, alignment=None):
        alignment = alignment or self.get("general.alignment", 32)
        if not isinstance(alignment, int) or not 0 < alignment <= 1 << 16:
            alignment = 32  # the tensor data stays where a usable alignment puts it
        head = b"GGUF" + struct.pack("<IQQ", self.version, self.n_tensors, len(self.metadata))
        head += b"".join(_string(key) + struct.pack("<I", kind) + _value(kind, value)
                         for key, kind, value in self.metadata)
        head += self.tensor_infos
        return head + b"\0" * (-len(head) % alignment) + self.data
