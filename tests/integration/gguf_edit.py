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
        self.version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
        self.metadata = []
        for _ in range(n_kv):
            key, kind = r.string(), r.take("<I")
            self.metadata.append((key, kind, r.value(kind)))
        self.tensors = []  # (name, ne, ggml type, offset into the data section)
        for _ in range(n_tensors):
            name, n_dims = r.string(), r.take("<I")
            ne = [r.take("<Q") for _ in range(n_dims)]
            self.tensors.append((name, ne, r.take("<I"), r.take("<Q")))
        alignment = self.get("general.alignment", 32)
        self.data = data[(r.at + alignment - 1) // alignment * alignment:]

    def get(self, key, default=None):
        return next((value for k, _, value in self.metadata if k == key), default)

    def to_bytes(self, alignment=None):
        alignment = alignment or self.get("general.alignment", 32)
        if not isinstance(alignment, int) or not 0 < alignment <= 1 << 16:
            alignment = 32  # the tensor data stays where a usable alignment puts it
        head = b"GGUF" + struct.pack("<IQQ", self.version, len(self.tensors), len(self.metadata))
        head += b"".join(_string(key) + struct.pack("<I", kind) + _value(kind, value)
                         for key, kind, value in self.metadata)
        head += b"".join(_string(name) + struct.pack(f"<I{len(ne)}QIQ", len(ne), *ne, kind, offset)
                         for name, ne, kind, offset in self.tensors)
        return head + b"\0" * (-len(head) % alignment) + self.data

    def split(self, count, first_without_tensors=False):
        """The shards gguf-split writes: the tensors dealt out in file order (none in the
        first shard if asked), all metadata in the first shard, split.no / split.count /
        split.tensors.count in every one. A tensor's bytes run to the next tensor's offset
        (padding included), so offsets stay multiples of the alignment."""
        ordered = sorted(self.tensors, key=lambda t: t[3])
        ends = [t[3] for t in ordered[1:]] + [len(self.data)]
        holders = count - 1 if first_without_tensors else count
        per_shard = -(-len(ordered) // holders)
        shards = []
        for i in range(count):
            shard = GgufFile.__new__(GgufFile)
            shard.version = self.version
            split_keys = [("split.no", UINT16, i), ("split.count", UINT16, count),
                          ("split.tensors.count", INT32, len(self.tensors))]
            shard.metadata = self.metadata + split_keys if i == 0 else split_keys
            held = i - 1 if first_without_tensors else i
            picks = range(held * per_shard, min((held + 1) * per_shard, len(ordered))) if held >= 0 else []
            shard.tensors, chunks, at = [], [], 0
            for k in picks:
                name, ne, kind, offset = ordered[k]
                shard.tensors.append((name, ne, kind, at))
                chunks.append(self.data[offset:ends[k]])
                at += ends[k] - offset
            shard.data = b"".join(chunks)
            shards.append(shard)
        return shards
