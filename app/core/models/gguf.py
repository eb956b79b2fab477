"""Validate a GGUF model file and read its metadata before llama.cpp ever sees it.

llama.cpp's loader has crashed on malformed GGUF files (several CVEs), and a half-downloaded
or mislabelled file otherwise ends in an opaque "failed to load model". So the whole header
-- metadata and tensor infos -- is walked here with every declared length checked against the
bytes really present, and the tensor data the header promises must fit in the file. Anything
wrong becomes a one-line GGUFError naming the file and the problem.

Layout (little-endian; versions 2 and 3 share it): b"GGUF", u32 version, u64 tensor_count,
u64 kv_count; kv_count x (string key, u32 value type, value); tensor_count x (string name,
u32 n_dims, n_dims x u64 ne, u32 ggml type, u64 offset); padding to general.alignment; data.
A string is a u64 byte length followed by UTF-8 bytes.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any, NoReturn

from app.core.models.gguf_tables import FILE_TYPE_NAMES, GGML_TYPES, describe_foreign_bytes

SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSOR_NAME_BYTES = 63  # GGML_MAX_NAME is 64 including the terminating NUL
MAX_KEY_BYTES = 65535  # the GGUF spec's limit on key length
SHORT_ARRAY_LIMIT = 64  # longer arrays (vocabularies, merges) are summarised, not loaded
SAMPLING_PREFIX = "general.sampling."

_HEADER_SIZE = 24
# Smallest possible encodings, used to reject counts no file of this size could hold.
_MIN_KV_BYTES = 8 + 1 + 4 + 1  # key length, 1-byte key, value type, 1-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # name length (names may be empty), n_dims, type, offset
_INT64_MAX = 2**63 - 1

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")
_STRING, _ARRAY, _BOOL, _UINT32, _FLOAT32 = 8, 9, 7, 4, 6
# GGUF value type -> (name used in array summaries, decoder).
_SCALARS: dict[int, tuple[str, struct.Struct]] = {
    0: ("uint8", struct.Struct("<B")),
    1: ("int8", struct.Struct("<b")),
    2: ("uint16", struct.Struct("<H")),
    3: ("int16", struct.Struct("<h")),
    4: ("uint32", _U32),
    5: ("int32", struct.Struct("<i")),
    6: ("float32", _F32),
    7: ("bool", struct.Struct("<B")),
    10: ("uint64", _U64),
    11: ("int64", struct.Struct("<q")),
    12: ("float64", struct.Struct("<d")),
}


class GGUFError(ValueError):
    """The file is not a GGUF model llama.cpp can safely load; the message says why."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        # Control characters (in a hostile key, a file name) must not break the one-line rule.
        message = f"{self.path.name or self.path}: {problem}"
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


@dataclass(frozen=True)
class GGUFInfo:
    """What Quorum read from a GGUF header itself: architecture, chat template, sizes, metadata."""

    path: Path
    file_size: int
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    architecture: str | None
    name: str | None
    context_length: int | None
    chat_template: str | None
    file_type: str | None
    parameter_count: int | None
    sampling_defaults: dict[str, float | int]
    eos_token_id: int | None
    bos_token_id: int | None


class _Reader:
    """Little-endian reads over the mapped file; every read is bounds-checked first."""

    def __init__(self, path: Path, buf: mmap.mmap) -> None:
        self.path = path
        self.buf = buf
        self.size = len(buf)
        self.pos = 0

    def fail(self, problem: str) -> NoReturn:
        raise GGUFError(self.path, problem)

    @property
    def remaining(self) -> int:
        return self.size - self.pos

    def take(self, n: int, what: str) -> int:
        """Claim the next n bytes and return where they start."""
        if n > self.remaining:
            self.fail(
                f"truncated: the file ends at byte {self.size:,}, inside {what} "
                "(incomplete download?)"
            )
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: struct.Struct, what: str) -> Any:
        return fmt.unpack_from(self.buf, self.take(fmt.size, what))[0]

    def u32(self, what: str) -> int:
        return int(self.unpack(_U32, what))

    def u64(self, what: str) -> int:
        return int(self.unpack(_U64, what))

    def string_length(self, what: str) -> int:
        n = self.u64(f"the length of {what}")
        if n > self.remaining:
            self.fail(
                f"{what} declares {n:,} bytes but only {self.remaining:,} remain in the file "
                "(truncated or corrupt)"
            )
        return n

    def string(self, what: str) -> bytes:
        n = self.string_length(what)
        start = self.take(n, what)
        return self.buf[start : start + n]

    def skip_strings(self, count: int, what: str) -> None:
        # The hot loop for 150k-token vocabularies: no copies, no per-item method calls.
        buf, pos, size, read_u64 = self.buf, self.pos, self.size, _U64.unpack_from
        for index in range(count):
            if size - pos < 8:
                self.pos = pos
                self.take(8, f"{what}[{index}]")
            n = read_u64(buf, pos)[0]
            pos += 8
            if n > size - pos:
                self.pos = pos
                self.fail(
                    f"{what}[{index}] declares {n:,} bytes but only {size - pos:,} remain "
                    "in the file (truncated or corrupt)"
                )
            pos += n
        self.pos = pos


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Validate the GGUF file at `path` and return its metadata, or raise GGUFError."""
    file = Path(os.fspath(path))
    _check_regular_nonempty(file)
    try:
        handle = file.open("rb")
    except PermissionError:
        raise GGUFError(file, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise GGUFError(file, f"cannot read the file: {exc.strerror or exc}") from None
    with handle:
        try:
            buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise GGUFError(file, f"cannot read the file: {exc}") from None
        with buf:
            return _parse(_Reader(file, buf))


def _check_regular_nonempty(file: Path) -> None:
    try:
        info = file.stat()
    except FileNotFoundError:
        raise GGUFError(file, f"file not found ({file})") from None
    except PermissionError:
        raise GGUFError(file, f"cannot read the file: permission denied ({file})") from None
    except OSError as exc:
        raise GGUFError(file, f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GGUFError(file, f"is a folder, not a model file ({file})")
    if not stat.S_ISREG(info.st_mode):
        raise GGUFError(file, "is not a regular file")
    if info.st_size == 0:
        raise GGUFError(file, "the file is empty (0 bytes; an interrupted download?)")


def _parse(r: _Reader) -> GGUFInfo:
    head = r.buf[:64]
    if head[:4] != b"GGUF":
        r.fail(f"not a GGUF model file: {describe_foreign_bytes(head)}")
    r.pos = 4
    version = r.u32("the header")
    _check_version(r, version)
    tensor_count = r.u64("the header")
    kv_count = r.u64("the header")
    if tensor_count * _MIN_TENSOR_INFO_BYTES + kv_count * _MIN_KV_BYTES > r.remaining:
        r.fail(
            f"the header claims {tensor_count:,} tensors and {kv_count:,} metadata "
            f"entries, more than a {r.size:,}-byte file can hold (truncated or corrupt)"
        )
    metadata = _read_metadata(r, kv_count)
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if alignment <= 0 or alignment & (alignment - 1):
        r.fail(f"general.alignment is {alignment}, which is not a power of two")
    parameter_count = _read_tensor_infos(r, tensor_count, alignment)
    return _info(r, version, tensor_count, metadata, parameter_count)


def _check_version(r: _Reader, version: int) -> None:
    if version in SUPPORTED_VERSIONS:
        return
    if version == 1:
        r.fail("GGUF version 1 is too old for llama.cpp; re-download or re-convert the model")
    if int.from_bytes(version.to_bytes(4, "little"), "big") in SUPPORTED_VERSIONS:
        r.fail("this is a big-endian GGUF file; only little-endian files are supported")
    r.fail(f"unsupported GGUF version {version} (supported: 2 and 3)")


def _read_metadata(r: _Reader, kv_count: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for index in range(kv_count):
        what = f"metadata key #{index}"
        key_length = r.string_length(what)
        if key_length == 0:
            r.fail(f"{what} is empty")
        if key_length > MAX_KEY_BYTES:
            r.fail(f"{what} is {key_length:,} bytes long (at most {MAX_KEY_BYTES:,} allowed)")
        start = r.take(key_length, what)
        try:
            key = r.buf[start : start + key_length].decode("utf-8")
        except UnicodeDecodeError:
            r.fail(f"{what} is not valid UTF-8")
        if key in metadata:
            r.fail(f"duplicate metadata key {_quoted(key)}")
        label = _quoted(key)
        value_type = r.u32(f"the value type of {label}")
        if key == "general.alignment" and value_type != _UINT32:
            r.fail(f"general.alignment must be a uint32 but has value type {value_type}")
        metadata[key] = _read_value(r, value_type, label)
    return metadata


def _read_value(r: _Reader, value_type: int, label: str) -> Any:
    if value_type == _STRING:
        # Values are shown to people, not compared: undecodable bytes become U+FFFD.
        return r.string(f"the value of {label}").decode("utf-8", "replace")
    if value_type == _ARRAY:
        return _read_array(r, label)
    scalar = _SCALARS.get(value_type)
    if scalar is None:
        r.fail(f"metadata key {label} has unknown value type {value_type}")
    value = r.unpack(scalar[1], f"the value of {label}")
    if value_type == _BOOL:
        return value != 0
    return _shortest_float32(value) if value_type == _FLOAT32 else value


def _shortest_float32(value: float) -> float:
    """The shortest decimal with the same float32 bits: a stored 0.6 reads 0.6, not 0.6000000238."""
    packed = _F32.pack(value)
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if _F32.pack(candidate) == packed:
            return candidate
    return value  # NaN (its payload bits need not survive) or a value needing all digits


def _read_array(r: _Reader, label: str) -> Any:
    item_type = r.u32(f"the array header of {label}")
    count = r.u64(f"the array header of {label}")
    if item_type == _ARRAY:
        # Allowed by the spec but rejected by llama.cpp; refusing also keeps parsing flat.
        r.fail(f"metadata key {label} is an array of arrays, which llama.cpp cannot load")
    if item_type == _STRING:
        type_name, item_size = "string", 8  # at least the length prefix
    elif item_type in _SCALARS:
        type_name, item_size = _SCALARS[item_type][0], _SCALARS[item_type][1].size
    else:
        r.fail(f"metadata array {label} has unknown element type {item_type}")
    if count * item_size > r.remaining:
        r.fail(
            f"metadata array {label} declares {count:,} elements, more than the "
            f"{r.remaining:,} bytes left in the file can hold (truncated or corrupt)"
        )
    if count <= SHORT_ARRAY_LIMIT:
        return [_read_value(r, item_type, f"{label}[{i}]") for i in range(count)]
    if item_type == _STRING:
        r.skip_strings(count, label)
    else:
        r.take(count * item_size, f"the array {label}")
    return {"array_of": type_name, "length": count}


def _read_tensor_infos(r: _Reader, tensor_count: int, alignment: int) -> int:
    """Check every tensor info and that the data fits in the file; return the parameter count."""
    seen: set[bytes] = set()
    parameters = 0
    expected_offset = 0  # llama.cpp requires tensors packed in order, each padded to alignment
    data_end = 0
    for index in range(tensor_count):
        raw_name = r.string(f"the name of tensor #{index}")
        name = _quoted(raw_name.decode("utf-8", "replace"))
        where = f"the tensor info of {name}"
        if len(raw_name) > MAX_TENSOR_NAME_BYTES:
            r.fail(f"tensor #{index} has a {len(raw_name)}-byte name (llama.cpp allows 63)")
        if raw_name in seen:
            r.fail(f"duplicate tensor name {name}")
        seen.add(raw_name)
        n_dims = r.u32(where)
        if n_dims > MAX_DIMS:
            r.fail(f"tensor {name} has {n_dims:,} dimensions (at most {MAX_DIMS})")
        dims = [r.u64(where) for _ in range(n_dims)]
        elements = prod(dims)
        if any(d > _INT64_MAX for d in dims) or elements > _INT64_MAX:
            r.fail(f"tensor {name} has an impossible shape {dims}")
        type_id = r.u32(where)
        if type_id not in GGML_TYPES:
            r.fail(f"tensor {name} has unknown ggml type {type_id}")
        type_name, block_size, block_bytes = GGML_TYPES[type_id]
        if (dims[0] if dims else 1) % block_size:
            r.fail(
                f"tensor {name} of type {type_name} has rows of {dims[0]:,} elements, "
                f"not a multiple of its block size {block_size}"
            )
        nbytes = elements // block_size * block_bytes
        offset = r.u64(where)
        if offset % alignment:
            r.fail(f"tensor {name} data offset {offset:,} is not aligned to {alignment}")
        if offset != expected_offset:
            r.fail(
                f"tensor {name} data offset {offset:,} should be {expected_offset:,} "
                "(tensor data overlaps or has gaps)"
            )
        expected_offset += -(-nbytes // alignment) * alignment
        data_end = max(data_end, offset + nbytes)
        parameters += elements
    data_start = -(-r.pos // alignment) * alignment
    needed = data_start + data_end if tensor_count else r.pos
    if needed > r.size:
        r.fail(f"truncated: {r.size:,} bytes of {needed:,} (incomplete download?)")
    return parameters


def _info(
    r: _Reader, version: int, tensor_count: int, metadata: dict[str, Any], parameters: int
) -> GGUFInfo:
    architecture = _text(metadata.get("general.architecture"))
    file_type = _integer(metadata.get("general.file_type"))
    sampling = {
        key.removeprefix(SAMPLING_PREFIX): value
        for key, value in metadata.items()
        if key.startswith(SAMPLING_PREFIX)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }
    return GGUFInfo(
        path=r.path,
        file_size=r.size,
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        architecture=architecture,
        name=_text(metadata.get("general.name")),
        context_length=_integer(metadata.get(f"{architecture}.context_length")),
        chat_template=_text(metadata.get("tokenizer.chat_template")),
        file_type=FILE_TYPE_NAMES.get(file_type) if file_type is not None else None,
        parameter_count=parameters if tensor_count else None,
        sampling_defaults=sampling,
        eos_token_id=_integer(metadata.get("tokenizer.ggml.eos_token_id")),
        bos_token_id=_integer(metadata.get("tokenizer.ggml.bos_token_id")),
    )


def _quoted(text: str, limit: int = 80) -> str:
    """A key or tensor name for a message: quoted and cut short (keys may be 64 KiB)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
