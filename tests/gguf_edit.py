"""Write a copy of a GGUF file with one string metadata value replaced.

The tests use it to give the real SmolLM2 weights other chat templates (a Qwen3-style
hybrid thinking template, an R1-style template that opens <think> itself), so the
engine's template handling runs end to end without a multi-gigabyte model.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return int(value)

    def string(self) -> str:
        n = self.take("Q")
        self.pos += n
        return self.data[self.pos - n : self.pos].decode("utf-8")

    def skip_value(self, vtype: int) -> None:
        if vtype == _STRING:
            self.string()
        elif vtype == _ARRAY:
            elem, count = self.take("I"), self.take("Q")
            if elem in _SCALAR_SIZES:
                self.pos += _SCALAR_SIZES[elem] * count
            else:
                for _ in range(count):
                    self.skip_value(elem)
        else:
            self.pos += _SCALAR_SIZES[vtype]


def _string_bytes(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def copy_with_string(src: Path, dst: Path, key: str, value: str) -> Path:
    """Copy ``src`` to ``dst`` with string metadata ``key`` set to ``value``."""
    with src.open("rb") as handle:
        head = handle.read(64 * 1024 * 1024)  # header, vocabulary and tensor infos fit
    r = _Reader(head, 4)
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    out = bytearray(head[:4] + struct.pack("<IQQ", version, n_tensors, n_kv))
    alignment = 32
    for _ in range(n_kv):
        start = r.pos
        name = r.string()
        vtype = r.take("I")
        value_start = r.pos
        if name == key and vtype == _STRING:
            r.string()
            out += head[start:value_start] + _string_bytes(value)
            continue
        if name == "general.alignment":
            alignment = struct.unpack_from("<I", head, value_start)[0]
        r.skip_value(vtype)
        out += head[start : r.pos]
    infos_start = r.pos
    for _ in range(n_tensors):
        r.string()
        n_dims = r.take("I")
        r.pos += 8 * n_dims + 4 + 8
    out += head[infos_start : r.pos]
    data_start = -(-r.pos // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    with src.open("rb") as source, dst.open("wb") as target:
        target.write(out)
        source.seek(data_start)
        shutil.copyfileobj(source, target, 1 << 20)
    return dst
