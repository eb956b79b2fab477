"""Tests for app.core.models.gguf: the real test model, hand-built valid files, and broken or
hostile ones. Every broken file must give a one-line GGUFError naming the file."""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.models.gguf import GGUFError, GGUFInfo, read_gguf_info

# ---------------------------------------------------------------------------------------------
# A minimal GGUF writer, independent of the reader, so tests can build exact byte layouts.

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = range(10)
UINT64, INT64, FLOAT64 = 10, 11, 12
F32, F16, Q4_0, Q8_0, Q4_K = 0, 1, 2, 8, 12


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def gstr(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return u64(len(raw)) + raw


def kv(key: str | bytes, value_type: int, payload: bytes) -> bytes:
    return gstr(key) + u32(value_type) + payload


def kv_str(key: str, value: str) -> bytes:
    return kv(key, STRING, gstr(value))


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, UINT32, u32(value))


def kv_i32(key: str, value: int) -> bytes:
    return kv(key, INT32, struct.pack("<i", value))


def kv_f32(key: str, value: float) -> bytes:
    return kv(key, FLOAT32, struct.pack("<f", value))


def kv_str_array(key: str, items: list[str]) -> bytes:
    return kv(key, ARRAY, u32(STRING) + u64(len(items)) + b"".join(gstr(i) for i in items))


def kv_i32_array(key: str, items: list[int]) -> bytes:
    return kv(key, ARRAY, u32(INT32) + u64(len(items)) + struct.pack(f"<{len(items)}i", *items))


@dataclass
class Tensor:
    name: str
    dims: list[int]
    ggml_type: int = F32
    nbytes: int | None = None  # defaults to 4 bytes per element (right for F32)
    offset: int | None = None  # defaults to packed in order, padded to the alignment


def build_gguf(
    kvs: list[bytes],
    tensors: list[Tensor] | None = None,
    *,
    version: int = 3,
    alignment: int = 32,
    tensor_count: int | None = None,
    kv_count: int | None = None,
) -> bytes:
    tensors = [Tensor("weight", [4, 2])] if tensors is None else tensors
    infos, data, offset = b"", b"", 0
    for t in tensors:
        size = (
            4 * (t.dims[0] if t.dims else 1) * _product(t.dims[1:])
            if t.nbytes is None
            else t.nbytes
        )
        chosen = offset if t.offset is None else t.offset
        infos += gstr(t.name) + u32(len(t.dims)) + b"".join(u64(d) for d in t.dims)
        infos += u32(t.ggml_type) + u64(chosen)
        padded = -(-size // alignment) * alignment
        if size > 1 << 20:  # absurd shapes: the header is the point, leave the data out
            size = padded = 0
        data += bytes(range(256)) * (size // 256) + bytes(size % 256)
        if t is not tensors[-1]:
            data += bytes(padded - size)  # the last tensor ends the file, unpadded
        offset += padded
    header = b"GGUF" + u32(version)
    header += u64(len(tensors) if tensor_count is None else tensor_count)
    header += u64(len(kvs) if kv_count is None else kv_count)
    body = header + b"".join(kvs) + infos
    if tensors:
        body += bytes(-len(body) % alignment)
    return body + data


def _product(values: list[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def small_valid_kvs() -> list[bytes]:
    return [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", "Tiny Test"),
        kv_u32("llama.context_length", 4096),
        kv_u32("general.file_type", 15),
        kv_f32("general.sampling.temp", 0.6),
        kv_i32("general.sampling.top_k", 20),
        kv_f32("general.sampling.top_p", 0.95),
        kv_str("general.sampling.sequence", "edkypmxt"),
        kv_str("tokenizer.chat_template", "{{ '<|im_start|>' }}"),
        kv_str_array("tokenizer.ggml.tokens", [chr(65 + i % 26) for i in range(65)]),
        kv_str_array("general.languages", ["en", "fr"]),
        kv_i32_array("tokenizer.ggml.token_type", [1] * 65),
        kv_u32("tokenizer.ggml.eos_token_id", 2),
        kv("flag", BOOL, b"\x01"),
    ]


def small_valid_file() -> bytes:
    return build_gguf(small_valid_kvs(), [Tensor("a.weight", [8, 2]), Tensor("b", [3])])


def write(tmp_path: Path, data: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(GGUFError) as caught:
        read_gguf_info(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: ")
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---------------------------------------------------------------------------------------------
# The real test model


def test_real_model_metadata(test_model_path: Path) -> None:
    info = read_gguf_info(test_model_path)
    assert isinstance(info, GGUFInfo)
    assert info.path == test_model_path
    assert info.file_size == test_model_path.stat().st_size
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template is not None and "im_start" in info.chat_template
    assert info.file_type == "Q4_1"
    assert info.eos_token_id == 2 and info.bos_token_id == 1
    assert info.sampling_defaults == {}
    vocab = info.metadata["tokenizer.ggml.tokens"]
    assert vocab == {"array_of": "string", "length": info.metadata["llama.vocab_size"]}
    # SmolLM2 ties its output to the embedding: 9 tensors per block + embedding + final norm.
    assert info.tensor_count == 9 * info.metadata["llama.block_count"] + 2
    # "135M" in the name.
    assert info.parameter_count is not None
    assert 130_000_000 < info.parameter_count < 140_000_000


def test_real_model_reads_fast(test_model_path: Path) -> None:
    read_gguf_info(test_model_path)  # warm the page cache
    best = min(_timed(test_model_path) for _ in range(3))
    assert best < 0.5, f"reading the 98 MB model took {best:.3f} s"


def _timed(path: Path) -> float:
    start = time.perf_counter()
    read_gguf_info(path)
    return time.perf_counter() - start


def test_real_model_truncated_anywhere(test_model_path: Path, tmp_path: Path) -> None:
    whole = test_model_path.read_bytes()
    size = len(whole)
    first_tensor_name = whole.index(gstr("token_embd.weight"))
    cuts = {
        "in the header": 13,
        "in the metadata": 5_000,
        "in the vocabulary": first_tensor_name // 2,
        "in the tensor infos": first_tensor_name + 20,
        "in the tensor data": size // 2,
        "one byte short": size - 1,
    }
    for where, cut in cuts.items():
        path = write(tmp_path, whole[:cut], f"cut-{cut}.gguf")
        message = expect_error(path, "truncated")
        if cut > first_tensor_name + 1000:
            assert f"{cut:,} bytes of {size:,}" in message, where
        path.unlink()


# ---------------------------------------------------------------------------------------------
# Valid hand-built files


def test_small_file_metadata_and_sampling_defaults(tmp_path: Path) -> None:
    info = read_gguf_info(write(tmp_path, small_valid_file()))
    assert info.architecture == "llama"
    assert info.name == "Tiny Test"
    assert info.context_length == 4096
    assert info.file_type == "Q4_K_M"
    assert info.sampling_defaults == {"temp": 0.6, "top_k": 20, "top_p": 0.95}
    assert info.chat_template == "{{ '<|im_start|>' }}"
    assert info.eos_token_id == 2 and info.bos_token_id is None
    assert info.tensor_count == 2 and info.parameter_count == 8 * 2 + 3
    assert info.metadata["general.languages"] == ["en", "fr"]
    assert info.metadata["tokenizer.ggml.tokens"] == {"array_of": "string", "length": 65}
    assert info.metadata["tokenizer.ggml.token_type"] == {"array_of": "int32", "length": 65}
    assert info.metadata["flag"] is True


def test_version_2_custom_alignment_and_quantized_sizes(tmp_path: Path) -> None:
    tensors = [
        Tensor("q", [64, 3], Q4_0, nbytes=2 * 3 * 18),  # 32-element blocks of 18 bytes
        Tensor("k", [256, 2], Q4_K, nbytes=2 * 144),  # 256-element blocks of 144 bytes
        Tensor("h", [5], F16, nbytes=10),
    ]
    data = build_gguf([kv_u32("general.alignment", 64)], tensors, version=2, alignment=64)
    info = read_gguf_info(write(tmp_path, data))
    assert info.version == 2
    assert info.parameter_count == 64 * 3 + 256 * 2 + 5
    assert info.architecture is None and info.file_type is None and info.context_length is None
    expect_error(write(tmp_path, data[:-1], "short.gguf"), "truncated", "bytes of")


# (ggml type id, elements per block, bytes per block), as literal numbers from ggml-common.h.
KNOWN_TYPE_SIZES = [
    (0, 1, 4), (1, 1, 2), (2, 32, 18), (3, 32, 20), (6, 32, 22), (7, 32, 24), (8, 32, 34),
    (9, 32, 36), (10, 256, 84), (11, 256, 110), (12, 256, 144), (13, 256, 176), (14, 256, 210),
    (15, 256, 292), (16, 256, 66), (17, 256, 74), (18, 256, 98), (19, 256, 50), (20, 32, 18),
    (21, 256, 110), (22, 256, 82), (23, 256, 136), (24, 1, 1), (25, 1, 2), (26, 1, 4),
    (27, 1, 8), (28, 1, 8), (29, 256, 56), (30, 1, 2), (34, 256, 54), (35, 256, 66),
    (39, 32, 17), (40, 64, 36), (41, 128, 18), (42, 64, 18),
]  # fmt: skip


@pytest.mark.parametrize(("type_id", "block", "block_bytes"), KNOWN_TYPE_SIZES)
def test_tensor_byte_sizes_per_ggml_type(
    tmp_path: Path, type_id: int, block: int, block_bytes: int
) -> None:
    nbytes = 3 * 2 * block_bytes  # 3 rows of 2 blocks
    tensor = Tensor("t", [2 * block, 3], type_id, nbytes=nbytes)
    data = build_gguf([], [Tensor("first", [4]), tensor])
    assert read_gguf_info(write(tmp_path, data)).parameter_count == 4 + 6 * block
    expect_error(write(tmp_path, data[:-1], "short.gguf"), f"{len(data) - 1:,} bytes of")


def test_no_tensors_is_accepted(tmp_path: Path) -> None:
    info = read_gguf_info(write(tmp_path, build_gguf([kv_str("general.name", "x")], [])))
    assert info.tensor_count == 0 and info.parameter_count is None


def test_large_vocabulary_is_summarised_and_fast(tmp_path: Path) -> None:
    tokens = [f"token-{i}" for i in range(150_000)]
    data = build_gguf([kv_str_array("tokenizer.ggml.tokens", tokens), kv_str_array("m", tokens)])
    path = write(tmp_path, data)
    start = time.perf_counter()
    info = read_gguf_info(path)
    elapsed = time.perf_counter() - start
    assert info.metadata["tokenizer.ggml.tokens"] == {"array_of": "string", "length": 150_000}
    assert elapsed < 0.5, f"two 150k-string arrays took {elapsed:.3f} s"


def test_every_prefix_of_a_valid_file_is_reported_truncated(tmp_path: Path) -> None:
    whole = small_valid_file()
    read_gguf_info(write(tmp_path, whole))
    for cut in range(1, len(whole)):
        path = write(tmp_path, whole[:cut], "prefix.gguf")
        if cut < 4:
            expect_error(path, "not a GGUF model file")
        else:
            expect_error(path, "truncated")


# ---------------------------------------------------------------------------------------------
# Files that are not GGUF at all


def test_missing_file_and_folder(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.gguf", "file not found")
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    expect_error(folder, "is a folder")


def test_empty_file(tmp_path: Path) -> None:
    expect_error(write(tmp_path, b""), "empty")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, small_valid_file())
    path.chmod(0)
    try:
        expect_error(path, "permission denied")
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>", "looks like HTML"),
        (b"\n  <html><head><title>Error</title>", "looks like HTML"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40), "zip archive"),
        (u64(20) + b'{"__metadata__":{}}  ' + bytes(16), "safetensors"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n", "Git LFS pointer"),
        (b'{"error": "Repository not found"}', "JSON"),
        (b"\x80\x04\x95" + bytes(30), "pickle"),
        (b"lmgg" + bytes(30), "GGML"),
        (b"\x00\x01\x02\x03garbage", "starts with bytes 00 01 02 03"),
        (b"GG", "starts with bytes 47 47"),
    ],
)
def test_not_gguf_is_recognised(tmp_path: Path, content: bytes, fragment: str) -> None:
    expect_error(write(tmp_path, content), "not a GGUF model file", fragment)


# ---------------------------------------------------------------------------------------------
# Broken or hostile headers


@pytest.mark.parametrize(
    ("version", "fragment"),
    [(1, "version 1 is too old"), (4, "unsupported GGUF version 4"), (0, "version 0")],
)
def test_unsupported_versions(tmp_path: Path, version: int, fragment: str) -> None:
    expect_error(write(tmp_path, build_gguf([], version=version)), fragment)


def test_big_endian_file_is_named(tmp_path: Path) -> None:
    data = b"GGUF" + struct.pack(">I", 3) + build_gguf([])[8:]
    expect_error(write(tmp_path, data), "big-endian")


@pytest.mark.parametrize(
    ("tensor_count", "kv_count"), [(2**40, 0), (0, 2**40), (2**64 - 1, 2**64 - 1), (1000, 1000)]
)
def test_absurd_counts(tmp_path: Path, tensor_count: int, kv_count: int) -> None:
    data = build_gguf([kv_str("a", "b")], [], tensor_count=tensor_count, kv_count=kv_count)
    expect_error(write(tmp_path, data), f"claims {tensor_count:,} tensors", "can hold")


def test_huge_key_length(tmp_path: Path) -> None:
    data = build_gguf([u64(2**63) + b"general.name"])
    expect_error(write(tmp_path, data), "metadata key #0 declares", "only")


def test_huge_string_value_length(tmp_path: Path) -> None:
    data = build_gguf([kv("general.name", STRING, u64(2**62) + b"abc")])
    expect_error(write(tmp_path, data), "'general.name' declares 4,611,686,018,427,387,904 bytes")


def test_huge_string_inside_long_array(tmp_path: Path) -> None:
    items = b"".join(gstr(f"t{i}") for i in range(99)) + u64(2**50) + b"x"
    data = build_gguf([kv("tokenizer.ggml.tokens", ARRAY, u32(STRING) + u64(100) + items)])
    expect_error(write(tmp_path, data), "'tokenizer.ggml.tokens'[99] declares")


def test_huge_array_count(tmp_path: Path) -> None:
    data = build_gguf([kv("tokenizer.ggml.scores", ARRAY, u32(FLOAT32) + u64(2**61))])
    expect_error(
        write(tmp_path, data), "'tokenizer.ggml.scores' declares 2,305,843,009,213,693,952"
    )


@pytest.mark.parametrize("value_type", [13, 99, 2**32 - 1])
def test_unknown_value_type(tmp_path: Path, value_type: int) -> None:
    data = build_gguf([kv("x.y", value_type, u32(0))])
    expect_error(write(tmp_path, data), f"'x.y' has unknown value type {value_type}")


def test_unknown_array_element_type(tmp_path: Path) -> None:
    data = build_gguf([kv("arr", ARRAY, u32(77) + u64(1) + u32(0))])
    expect_error(write(tmp_path, data), "'arr' has unknown element type 77")


def test_array_of_arrays_is_refused(tmp_path: Path) -> None:
    inner = u32(ARRAY) + u64(1)
    data = build_gguf([kv("nested", ARRAY, u32(ARRAY) + u64(1) + inner * 5000)])
    expect_error(write(tmp_path, data), "'nested' is an array of arrays")


def test_duplicate_key(tmp_path: Path) -> None:
    data = build_gguf([kv_str("general.name", "a"), kv_str("general.name", "b")])
    expect_error(write(tmp_path, data), "duplicate metadata key 'general.name'")


def test_invalid_utf8_and_empty_keys(tmp_path: Path) -> None:
    expect_error(write(tmp_path, build_gguf([kv(b"bad\xff\xfe", UINT8, b"\x00")])), "UTF-8")
    expect_error(write(tmp_path, build_gguf([kv(b"", UINT8, b"\x00")])), "key #0 is empty")


def test_hostile_key_names_keep_the_message_short_and_on_one_line(tmp_path: Path) -> None:
    message = expect_error(write(tmp_path, build_gguf([kv("evil\nkey\x1b[2J", 99, b"")])), "evil")
    assert "evil\\nkey\\x1b[2J" in message
    message = expect_error(write(tmp_path, build_gguf([kv("k" * 60_000, 99, b"")])), "k…'")
    assert len(message) < 300


def test_invalid_utf8_in_values_is_replaced(tmp_path: Path) -> None:
    info = read_gguf_info(
        write(tmp_path, build_gguf([kv("general.name", STRING, gstr(b"a\xffb"))]))
    )
    assert info.name == "a\ufffdb"


@pytest.mark.parametrize(
    ("alignment_kv", "fragment"),
    [
        (kv_u32("general.alignment", 48), "alignment is 48, which is not a power of two"),
        (kv_u32("general.alignment", 0), "alignment is 0"),
        (kv_i32("general.alignment", 32), "must be a uint32"),
    ],
)
def test_bad_alignment(tmp_path: Path, alignment_kv: bytes, fragment: str) -> None:
    expect_error(write(tmp_path, build_gguf([alignment_kv])), fragment)


# ---------------------------------------------------------------------------------------------
# Broken tensor infos


@pytest.mark.parametrize(
    ("tensor", "fragment"),
    [
        (Tensor("t", [1, 1, 1, 1, 1]), "has 5 dimensions (at most 4)"),
        (Tensor("t", [2**32] * 4), "impossible shape"),
        (Tensor("t", [2**63]), "impossible shape"),
        (Tensor("t", [32], ggml_type=4, nbytes=20), "unknown ggml type 4"),
        (Tensor("t", [32], ggml_type=43, nbytes=20), "unknown ggml type 43"),
        (Tensor("t", [33], ggml_type=Q8_0, nbytes=34), "not a multiple of its block size 32"),
        (Tensor("t", [8], offset=16), "offset 16 is not aligned to 32"),
        (Tensor("t", [8], offset=2**40), "should be 32"),
        (Tensor("x" * 64, [8]), "64-byte name"),
        (Tensor("t", [2**40]), "truncated: "),
    ],
)
def test_bad_tensor_info(tmp_path: Path, tensor: Tensor, fragment: str) -> None:
    expect_error(write(tmp_path, build_gguf([], [Tensor("ok", [4]), tensor])), fragment)


def test_duplicate_tensor_name_and_overlapping_data(tmp_path: Path) -> None:
    dup = build_gguf([], [Tensor("w", [4]), Tensor("w", [4])])
    expect_error(write(tmp_path, dup), "duplicate tensor name 'w'")
    overlap = build_gguf([], [Tensor("a", [64]), Tensor("b", [4], offset=32)])
    expect_error(write(tmp_path, overlap, "o.gguf"), "'b' data offset 32 should be 256")


def test_error_survives_pickling(tmp_path: Path) -> None:
    import pickle

    error = GGUFError(tmp_path / "m.gguf", "truncated")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == "m.gguf: truncated" and again.path == error.path


# ---------------------------------------------------------------------------------------------
# Fuzzing: any mutation either parses or gives GGUFError, never another exception.

_FUZZ_BASE = small_valid_file()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255)), max_size=8),
    wide=st.lists(
        st.tuples(st.integers(0, len(_FUZZ_BASE) - 8), st.integers(0, 2**64 - 1)), max_size=2
    ),
    cut=st.integers(0, len(_FUZZ_BASE)),
)
def test_fuzzed_files_never_crash(
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[int, int]],
    wide: list[tuple[int, int]],
    cut: int,
) -> None:
    data = bytearray(_FUZZ_BASE)
    for position, value in edits:
        data[position] = value
    for position, value in wide:  # whole length/count fields set to arbitrary values
        data[position : position + 8] = u64(value)
    path = tmp_path_factory.getbasetemp() / "fuzz.gguf"
    path.write_bytes(bytes(data[:cut]))
    try:
        info = read_gguf_info(path)
    except GGUFError as error:
        assert "\n" not in str(error)
    else:
        assert info.file_size == cut
