"""Choose a llama.cpp configuration this CPU survives, by trying it in a child process.

Why: some CPUs advertise instructions that do not work. Measured on a Xeon with AMX in
a VM, a native llama.cpp build dies with SIGILL in its repacked AMX kernels on every
decode of two or more tokens; without repacking (``use_extra_bufts = False``) it runs,
at about half the single-stream speed. Such a crash kills the process that meets it,
so it cannot be caught in-process: a child (``probe_child``) runs the decode shapes
Quorum uses under the fastest configuration, then the safer ones, and the parent
keeps the fastest that survived.

What is remembered, in ``cache_dir()/llama-probe.json``:
- per *hardware key* (llama.cpp build + CPU flags): the configuration that survived, so
  a new model starts from it and a crashing configuration is not tried again;
- per *model file* (path, size, mtime): that the file loaded and decoded in a child, so
  a file that makes llama.cpp abort gets a message instead of killing the app.
Later starts read the cache and start no child.

``QUORUM_LLAMA_CONFIG=repack|no-repack`` forces a configuration and skips the probe
(tests, support).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import platform
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.files import write_json_atomic
from app.core.machine import cpu_flags
from app.core.paths import cache_dir

log = logging.getLogger(__name__)

FORCE_ENV = "QUORUM_LLAMA_CONFIG"
_CACHE_VERSION = 1
# A 4B model from a slow disk can take a while to load; a phase silent this long is hung.
_PHASE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class LlamaConfig:
    """One way of running llama.cpp's CPU backend, fastest first in ``CONFIGS``."""

    name: str
    description: str
    use_extra_bufts: bool  # llama_model_params: repack weights for the CPU's fastest kernels


REPACK = LlamaConfig("repack", "repacked CPU kernels (fastest)", use_extra_bufts=True)
NO_REPACK = LlamaConfig("no-repack", "plain CPU kernels, no repacking", use_extra_bufts=False)
CONFIGS = (REPACK, NO_REPACK)


class ProbeError(RuntimeError):
    """llama.cpp crashed under every configuration; the message is meant for a user."""


@dataclass(frozen=True)
class Attempt:
    """What one child run under one configuration came to."""

    config: str
    outcome: str  # "ok", "crashed", "refused" or "hung"
    phase: str  # the last phase the child finished ("" if none)
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"config": self.config, "outcome": self.outcome, "phase": self.phase,
                "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class ProbeVerdict:
    """The configuration to run with, and how it was chosen."""

    config: LlamaConfig
    source: str  # "probe" (a child ran now), "cache" or "forced"
    note: str | None = None  # plain words about a fallback; None when the fastest works
    seconds: float = 0.0  # time the probe took now (0 from cache)
    attempts: tuple[Attempt, ...] = ()

    def summary(self) -> str:
        """``no-repack (plain CPU kernels, no repacking) — why``, for status and self-test."""
        text = f"{self.config.name} ({self.config.description})"
        if self.source == "forced":
            text += f", forced by {FORCE_ENV}"
        return f"{text} — {self.note}" if self.note else text

    def to_record(self) -> dict[str, Any]:
        return {"name": self.config.name, "note": self.note, "source": self.source}


def config_named(name: str) -> LlamaConfig:
    for config in CONFIGS:
        if config.name == name:
            return config
    names = ", ".join(c.name for c in CONFIGS)
    raise ProbeError(f"{FORCE_ENV}={name!r} is not a configuration; use one of: {names}")


def choose_config(model_path: str | Path) -> ProbeVerdict:
    """The fastest configuration this CPU and this model file survive."""
    forced = os.environ.get(FORCE_ENV, "").strip()
    if forced:
        return ProbeVerdict(config_named(forced), "forced")
    started = time.perf_counter()
    cache = _load_cache()
    hw_key, model_key = hardware_key(), model_file_key(model_path)
    known = cache["models"].get(model_key)
    if isinstance(known, dict) and known.get("hardware") == hw_key:
        return _verdict_from(known, "cache")
    hardware = cache["hardware"].get(hw_key)
    start = CONFIGS.index(_safe_config_named(hardware.get("config"))) if hardware else 0
    attempts: list[Attempt] = []
    for config in CONFIGS[start:]:
        attempt = run_child(model_path, config)
        attempts.append(attempt)
        log.info("llama.cpp probe %s: %s", config.name, attempt)
        if attempt.outcome == "ok":
            verdict = ProbeVerdict(
                config, "probe", fallback_note(attempts, hardware),
                time.perf_counter() - started, tuple(attempts),
            )  # fmt: skip
            _remember(cache, hw_key, model_key, verdict, hardware)
            return verdict
        if attempt.outcome == "refused":
            # llama.cpp said no without crashing: the in-process load will say why.
            return ProbeVerdict(config, "probe", None, time.perf_counter() - started,
                                tuple(attempts))  # fmt: skip
    raise ProbeError(crash_message(Path(model_path).name, attempts))


def _safe_config_named(name: Any) -> LlamaConfig:
    try:
        return config_named(str(name))
    except ProbeError:
        return CONFIGS[0]


def _verdict_from(entry: dict[str, Any], source: str) -> ProbeVerdict:
    config = _safe_config_named(entry.get("config"))
    note = entry.get("note")
    return ProbeVerdict(config, source, note if isinstance(note, str) else None)


def fallback_note(attempts: list[Attempt], hardware: dict[str, Any] | None) -> str | None:
    """Why a slower configuration is in use, in words a user understands."""
    if hardware and hardware.get("note"):
        return str(hardware["note"])
    if not any(a.outcome in ("crashed", "hung") for a in attempts):
        return None
    amx = any(flag.startswith("amx") for flag in cpu_flags())
    kernels = "AMX kernels" if amx else "repacked CPU kernels"
    return f"this CPU's {kernels} crash in llama.cpp; running without them, about 2× slower"


def crash_message(model_name: str, attempts: list[Attempt]) -> str:
    if attempts and all(a.phase == "" for a in attempts):
        how = attempts[-1].detail
        return (
            f"llama.cpp crashed while loading {model_name} ({how}); the file is damaged or "
            "made for a newer llama.cpp. Quorum did not load it."
        )
    return (
        f"llama.cpp crashed running {model_name} on this CPU with every configuration "
        f"({'; '.join(f'{a.config}: {a.detail}' for a in attempts)}). This build of "
        "llama.cpp does not suit this CPU: reinstall it built for this machine, e.g. "
        'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir '
        "llama-cpp-python"
    )


def run_child(model_path: str | Path, config: LlamaConfig) -> Attempt:
    """Run the decode shapes under ``config`` in a child process; never raises."""
    from app.core.inference import probe_child

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=probe_child.run,
        args=(send, str(model_path), config.name, config.use_extra_bufts),
        name=f"quorum-probe-{config.name}",
        daemon=True,
    )
    child.start()
    send.close()  # the parent's copy; EOF on receive now means the child is gone
    phase, outcome, detail = "", "crashed", ""
    try:
        while True:
            if not receive.poll(_PHASE_TIMEOUT_S):
                outcome, detail = "hung", f"no progress for {_PHASE_TIMEOUT_S:.0f} s"
                child.kill()
                break
            kind, value = receive.recv()
            if kind == "phase":
                phase = value
            else:
                outcome, detail = ("ok" if kind == "done" else "refused"), value
                break
    except EOFError:
        pass
    finally:
        receive.close()
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()
    if outcome == "crashed":
        detail = _exit_description(child.exitcode)
    return Attempt(config.name, outcome, phase, detail)


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        meaning = {"SIGILL": "an instruction this CPU cannot run", "SIGABRT": "llama.cpp aborted",
                   "SIGSEGV": "a memory fault", "SIGBUS": "a memory fault"}.get(name)  # fmt: skip
        return f"{name}: {meaning}" if meaning else name
    return f"exit code {exitcode}"


def hardware_key() -> str:
    """Changes when llama.cpp is rebuilt or the CPU (or what it advertises) changes."""
    parts = [platform.machine(), platform.processor(), " ".join(sorted(cpu_flags()))]
    parts += [f"{p}:{s.st_size}:{s.st_mtime_ns}" for p, s in _library_files()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _library_files() -> list[tuple[str, os.stat_result]]:
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob("lib/*")):
            try:
                found.append((path.name, path.stat()))
            except OSError:
                continue
    return found


def model_file_key(model_path: str | Path) -> str:
    path = Path(model_path).resolve()
    try:
        stat = path.stat()
    except OSError:
        return str(path)
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def probe_cache_path() -> Path:
    return cache_dir() / "llama-probe.json"


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads(probe_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        data = {}
    return {
        "version": _CACHE_VERSION,
        "hardware": data.get("hardware") if isinstance(data.get("hardware"), dict) else {},
        "models": data.get("models") if isinstance(data.get("models"), dict) else {},
    }


def _remember(
    cache: dict[str, Any],
    hw_key: str,
    model_key: str,
    verdict: ProbeVerdict,
    hardware: dict[str, Any] | None,
) -> None:
    entry = {"config": verdict.config.name, "note": verdict.note,
             "attempts": [a.to_json() for a in verdict.attempts],
             "probed_at": time.time(), "seconds": round(verdict.seconds, 3)}  # fmt: skip
    # The hardware entry records the first verdict on this build and CPU; a model that
    # needed a safer configuration than that is remembered for that model alone.
    if hardware is None:
        cache["hardware"][hw_key] = entry
    cache["models"][model_key] = {**entry, "hardware": hw_key}
    try:
        write_json_atomic(probe_cache_path(), cache)
    except OSError as exc:  # a cache that cannot be written costs a probe next time
        log.warning("could not remember the llama.cpp probe: %s", exc)
