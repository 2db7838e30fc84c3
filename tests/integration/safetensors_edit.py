"""Edits of a model folder for the golden checks' guard tests."""
import json
import shutil
import struct


def copy_with_zeroed(model, copy, suffix):
    """Copies the folder `model` to `copy` with every tensor whose name ends with `suffix`
    set to zero bytes; returns how many tensors it zeroed."""
    shutil.copytree(model, copy)
    count = 0
    for path in copy.glob("*.safetensors"):
        data = bytearray(path.read_bytes())
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        for name, entry in header.items():
            if name.endswith(suffix):
                begin, end = entry["data_offsets"]
                data[8 + n + begin:8 + n + end] = bytes(end - begin)
                count += 1
        path.write_bytes(bytes(data))
    return count
