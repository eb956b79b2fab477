"""Fixed facts about the GGUF format that app.core.models.gguf checks files against.

The numbers come from llama.cpp (ggml/include/ggml.h `enum ggml_type`, the block structs in
ggml/src/ggml-common.h, include/llama.h `enum llama_ftype`) as vendored by
llama-cpp-python 0.3.36. Types llama.cpp removed from GGUF files (Q4_2, Q4_3, the Q4_0_4_4
repacks...) are deliberately absent: llama.cpp refuses them too.
"""

from __future__ import annotations

_QK_K = 256  # elements per "K-quant" super-block

# ggml type id -> (name, elements per block, bytes per block).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 2 + 16),
    3: ("Q4_1", 32, 2 + 2 + 16),
    6: ("Q5_0", 32, 2 + 4 + 16),
    7: ("Q5_1", 32, 2 + 2 + 4 + 16),
    8: ("Q8_0", 32, 2 + 32),
    9: ("Q8_1", 32, 2 + 2 + 32),
    10: ("Q2_K", _QK_K, 2 + 2 + _QK_K // 16 + _QK_K // 4),
    11: ("Q3_K", _QK_K, 2 + _QK_K // 4 + _QK_K // 8 + 12),
    12: ("Q4_K", _QK_K, 2 + 2 + 12 + _QK_K // 2),
    13: ("Q5_K", _QK_K, 2 + 2 + 12 + _QK_K // 2 + _QK_K // 8),
    14: ("Q6_K", _QK_K, 2 + _QK_K // 16 + 3 * _QK_K // 4),
    15: ("Q8_K", _QK_K, 4 + _QK_K + _QK_K // 16 * 2),
    16: ("IQ2_XXS", _QK_K, 2 + _QK_K // 8 * 2),
    17: ("IQ2_XS", _QK_K, 2 + _QK_K // 8 * 2 + _QK_K // 32),
    18: ("IQ3_XXS", _QK_K, 2 + 3 * (_QK_K // 8)),
    19: ("IQ1_S", _QK_K, 2 + _QK_K // 8 + _QK_K // 16),
    20: ("IQ4_NL", 32, 2 + 16),
    21: ("IQ3_S", _QK_K, 2 + 13 * (_QK_K // 32) + 4),
    22: ("IQ2_S", _QK_K, 2 + _QK_K // 4 + _QK_K // 16),
    23: ("IQ4_XS", _QK_K, 2 + 2 + _QK_K // 64 + _QK_K // 2),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", _QK_K, _QK_K // 8 + _QK_K // 16 + _QK_K // 32),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", _QK_K, 2 + _QK_K // 64 + (_QK_K - 4 * _QK_K // 64) // 5),
    35: ("TQ2_0", _QK_K, 2 + _QK_K // 4),
    39: ("MXFP4", 32, 1 + 16),
    40: ("NVFP4", 64, 4 + 32),
    41: ("Q1_0", 128, 2 + 16),
    42: ("Q2_0", 64, 2 + 16),
}

# general.file_type (llama_ftype) -> the name people know the quantization by.
FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",  # retired, but old files may still say so
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
}


def describe_foreign_bytes(head: bytes) -> str:
    """Say what a file that lacks the GGUF magic looks like, from its first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "it looks like HTML (an error page saved instead of the model?)"
    if text.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer file, not the model itself"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "it looks like XML or HTML (an error page saved instead of the model?)"
    if text.startswith((b"{", b"[")):
        return "it looks like JSON text"
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive (a PyTorch checkpoint, or the model still needs unpacking?)"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed (unpack it first)"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "it is a Python pickle (a PyTorch checkpoint?), not a GGUF model"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg", b"algg"):
        return "it is an old GGML/GGJT model from before GGUF; convert it to GGUF"
    if len(head) >= 10 and head[8:10] in (b'{"', b"{'"):
        return "it is a safetensors file; it must be converted to GGUF first"
    shown = " ".join(f"{b:02x}" for b in head[:8])
    return f"it starts with bytes {shown} instead of 'GGUF'"
