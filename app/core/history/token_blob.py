"""Each sample's token confidence (app.core.inference.token_stats) as one compact blob.

The budget, stated: a run's token figures take at most RUN_BUDGET_BYTES (32 MiB) in the
history, whatever N: each sample may use RUN_BUDGET_BYTES / N after compression
(sample_budget), N being the samples asked for (512 at most: 64 KiB each; a single answer:
the whole 32 MiB). Before compression a token costs 47 bytes with everything kept (id
int32, channel uint8, text end int32, logprob and entropy float16, the top-5 ids int32
and log-probabilities float16, the after-chain logprob and entropy float16), plus each
distinct token's text once per sample; zlib typically halves that.

Past its share a sample keeps what matters most, in two steps, and says so in the blob
(``stored``): first it drops the alternatives and the after-chain figures and keeps, per
token, its id, channel, text end, logprob and entropy (13 bytes): enough to colour the
trace and find where the model hesitated. If even that does not fit, the figures are not
stored at all, and the note gives the sizes.

float16 keeps 11 significant bits: a stored figure is within 2^-11 of its value,
relatively (a logprob of -3.0 comes back within 0.0015), and figures below -65504 come
back as -65504. The blob is bytes b"QTS", a format byte, then zlib of: a 4-byte
little-endian header length, a JSON header (counts, level, texts, forced positions, the
basis text and the array layout), and the arrays' raw little-endian bytes. A sample
also costs about 100 bytes of its own (format, header, compression). A basis of None
means the local engine's own (app.core.inference.token_stats.BASIS), stored once in code
rather than in every sample.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

MAGIC, FORMAT = b"QTS", 1
RUN_BUDGET_BYTES = 32 * 1024**2
TOP = 5
FULL, NO_ALTERNATIVES, DROPPED = "full", "no alternatives", "dropped"
_F16_MIN = float(np.finfo(np.float16).min)
_CHANNELS = ("trace", "answer")
# name, dtype, per-token width (0: one value); the lean level keeps the first four.
_LAYOUT = (("token_ids", "<i4", 0), ("channels", "u1", 0), ("ends", "<i4", 0),
           ("logprob", "<f2", 0), ("entropy_bits", "<f2", 0), ("top_ids", "<i4", TOP),
           ("top_logprobs", "<f2", TOP), ("sampled_logprob", "<f2", 0),
           ("sampled_entropy_bits", "<f2", 0))  # fmt: skip
_LEAN = 5


class TokenBlobError(ValueError):
    """The blob is not token figures this version can read."""


def sample_budget(samples: int) -> int:
    """Compressed bytes one sample's figures may take, when the run asks for ``samples``."""
    return RUN_BUDGET_BYTES // max(1, samples)


def encode(columns: Mapping[str, Any], budget: int) -> bytes:
    """``columns``: TokenStats.columns(). The smallest level that fits, at most ``budget``
    bytes; a sample whose lean form is still too big is stored as a note alone."""
    n = len(columns["token_ids"])
    full = _pack(columns, n, FULL, None)
    if len(full) <= budget:
        return full
    lean = _pack(columns, n, NO_ALTERNATIVES,
                 f"alternatives and after-chain figures dropped: all {len(full)} bytes did "
                 f"not fit this sample's {budget}-byte share of the run's budget")  # fmt: skip
    if len(lean) <= budget:
        return lean
    return _pack(columns, n, DROPPED,
                 f"not stored: even logprob and entropy alone took {len(lean)} bytes, over "
                 f"this sample's {budget}-byte share of the run's budget")  # fmt: skip


def decode(blob: bytes) -> dict[str, Any]:
    """The columns back (float16-rounded), with ``stored`` (the level) and ``note``."""
    if blob[:3] != MAGIC or len(blob) < 4 or blob[3] != FORMAT:
        raise TokenBlobError("not token figures in a format this Quorum reads")
    try:
        payload = zlib.decompress(blob[4:])
        (size,) = struct.unpack_from("<I", payload)
        header = json.loads(payload[4 : 4 + size])
    except (zlib.error, struct.error, ValueError) as exc:
        raise TokenBlobError(f"damaged token figures ({exc})") from exc
    n, level = int(header["n"]), header["level"]
    out: dict[str, Any] = {"stored": level, "note": header["note"], "basis": header["basis"],
                           "forced": header["forced"],
                           "entropy_is_lower_bound": header["entropy_is_lower_bound"],
                           "texts": {int(k): v for k, v in header["texts"].items()}}  # fmt: skip
    at = 4 + size
    for name, dtype, width in _LAYOUT[: header["arrays"]]:
        count = n * (width or 1)
        values = np.frombuffer(payload, dtype=dtype, count=count, offset=at)
        at += values.nbytes
        out[name] = values.reshape(n, width) if width else values
    return _as_lists(out, n)


def to_json(blob: bytes) -> dict[str, Any]:
    """For the history's JSON export: the decoded columns, texts keyed by id."""
    columns = decode(blob)
    columns["texts"] = {str(k): v for k, v in columns["texts"].items()}
    return columns


def _pack(columns: Mapping[str, Any], n: int, level: str, note: str | None) -> bytes:
    arrays = {FULL: len(_LAYOUT), NO_ALTERNATIVES: _LEAN, DROPPED: 0}[level]
    texts = columns["texts"]
    if level == NO_ALTERNATIVES:
        texts = {t: texts[t] for t in columns["token_ids"] if t in texts}
    header = {"n": n, "level": level, "note": note, "basis": columns["basis"],
              "forced": list(columns["forced"]) if arrays else [],
              "entropy_is_lower_bound": bool(columns.get("entropy_is_lower_bound")),
              "texts": {str(k): v for k, v in texts.items()} if arrays else {},
              "arrays": arrays}  # fmt: skip
    head = json.dumps(header, ensure_ascii=False).encode("utf-8")
    parts = [struct.pack("<I", len(head)), head]
    for name, dtype, width in _LAYOUT[:arrays]:
        parts.append(_array(columns[name], name, dtype, width, n).tobytes())
    return MAGIC + bytes([FORMAT]) + zlib.compress(b"".join(parts), 6)


def _array(values: Any, name: str, dtype: str, width: int, n: int) -> np.ndarray:
    if name == "channels":
        return np.array([_CHANNELS.index(c) for c in values], dtype=dtype)
    if width:  # rows of up to TOP entries, padded (-1 ids, NaN figures)
        pad = -1 if dtype == "<i4" else math.nan
        rows = [list(row)[:width] + [pad] * (width - len(row)) for row in values]
        values = rows or np.empty((0, width))
    if dtype == "<f2":
        floats = np.array(values, dtype=np.float64).reshape(n, *((width,) if width else ()))
        floats = np.where(np.isnan(floats), np.nan, np.maximum(floats, _F16_MIN))
        return floats.astype(dtype)
    return np.array(values, dtype=dtype).reshape(n, *((width,) if width else ()))


def _as_lists(out: dict[str, Any], n: int) -> dict[str, Any]:
    """numpy back to the plain lists TokenStats holds; absent columns as empty entries."""
    result = dict(out)
    result["token_ids"] = out["token_ids"].tolist() if "token_ids" in out else []
    result["channels"] = [_CHANNELS[c] for c in out["channels"]] if "channels" in out else []
    for name in ("ends", "logprob", "entropy_bits"):
        result[name] = out[name].tolist() if name in out else []
    if "top_ids" in out:
        ids, lps = out["top_ids"].tolist(), out["top_logprobs"].astype(float).tolist()
        result["top_ids"] = [[t for t in row if t >= 0] for row in ids]
        result["top_logprobs"] = [
            lp[: len(r)] for lp, r in zip(lps, result["top_ids"], strict=True)
        ]
        drawn = out["sampled_logprob"].astype(float).tolist()
        result["sampled_logprob"] = [None if math.isnan(v) else v for v in drawn]
        result["sampled_entropy_bits"] = out["sampled_entropy_bits"].astype(float).tolist()
    elif result["token_ids"]:  # the lean level: no alternatives, no after-chain figures
        result["top_ids"] = [[] for _ in range(n)]
        result["top_logprobs"] = [[] for _ in range(n)]
        result["sampled_logprob"] = [None] * n
        result["sampled_entropy_bits"] = [math.nan] * n
    else:
        for name in ("top_ids", "top_logprobs", "sampled_logprob", "sampled_entropy_bits"):
            result[name] = []
    return result
