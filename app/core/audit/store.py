"""Samples saved as they finish, so a killed audit continues where it stopped.

One JSON Lines file: a header line (the audit's base seed and the set's digest), then one
line per finished sample with its key (question id, model, temperature, thinking budget,
condition seed) and its texts. Each line is written and flushed as the sample finishes:
a process killed with SIGKILL loses at most the line it was writing, and a torn last line
is skipped on the next start (any other unreadable line is an error: the file was edited).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from app.core.audit.samples import AuditSample, RunKey

FORMAT = "quorum.audit.samples"
VERSION = 1


class SampleStoreError(ValueError):
    """The samples file cannot be used for this audit; the message is meant for a user."""


class SampleStore:
    """The saved samples of one audit, by key and sample index; appends as samples finish."""

    def __init__(self, path: Path, *, seed: int, set_sha256: str) -> None:
        """Open (or create) the file. If it exists, its header must match: same question
        set; its seed wins over `seed` (the caller asked for a fresh one or the same)."""
        self.path = path
        self._samples: dict[tuple[Any, ...], dict[int, AuditSample]] = {}
        header = self._load() if path.exists() and path.stat().st_size else None
        if header is not None:
            if header.get("set_sha256") != set_sha256:
                raise SampleStoreError(
                    f"{path} holds samples of a different question set; "
                    "use another samples file or delete this one"
                )
            self.seed = int(header["seed"])
        else:
            self.seed = seed
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8", newline="\n")
        if header is None:
            self._write(
                {
                    "kind": "header",
                    "format": FORMAT,
                    "version": VERSION,
                    "seed": seed,
                    "set_sha256": set_sha256,
                }
            )

    @property
    def resumed(self) -> bool:
        return bool(self._samples)

    def count(self) -> int:
        return sum(len(v) for v in self._samples.values())

    def samples(self, key: RunKey) -> dict[int, AuditSample]:
        """The saved samples of one key, by sample index (a copy)."""
        return dict(self._samples.get(key.as_tuple(), {}))

    def add(self, key: RunKey, sample: AuditSample) -> None:
        """Save one sample now; a sample already saved for this key and index is kept."""
        held = self._samples.setdefault(key.as_tuple(), {})
        if sample.index in held:
            return
        held[sample.index] = sample
        self._write({"kind": "sample", "key": _key_dict(key), "sample": sample.to_dict()})

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def _load(self) -> dict[str, Any] | None:
        """Read the samples saved so far; None when not even the header was finished."""
        data = self.path.read_bytes()
        complete, _, torn = data.rpartition(b"\n")
        if torn:  # the line a killed run was writing: drop it so appends start clean
            with self.path.open("rb+") as f:
                f.truncate(len(data) - len(torn))
        if not complete:
            return None
        header: dict[str, Any] | None = None
        for number, raw in enumerate(complete.split(b"\n") if complete else [], start=1):
            try:
                record = json.loads(raw.decode("utf-8"))
                if number == 1:
                    header = record if record.get("format") == FORMAT else None
                    if header is None:
                        break
                    continue
                key = RunKey(**record["key"])
                sample = AuditSample.from_dict(record["sample"])
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
                if number == 1:
                    break
                raise SampleStoreError(
                    f"{self.path} line {number} cannot be read; the file was changed"
                ) from None
            self._samples.setdefault(key.as_tuple(), {}).setdefault(sample.index, sample)
        if header is None:
            raise SampleStoreError(f"{self.path} is not a Quorum audit samples file")
        return header


def _key_dict(key: RunKey) -> dict[str, Any]:
    return {
        "question": key.question,
        "model": key.model,
        "temperature": key.temperature,
        "think_budget": key.think_budget,
        "seed": key.seed,
    }
