"""The probe's child process: load a model and run the decode shapes Quorum uses.

Runs in a process of its own (``multiprocessing`` spawn, which also works in a frozen
app) because the failures it looks for cannot be caught: an illegal instruction in a
CPU kernel (SIGILL) or an ``abort()`` in llama.cpp's loader end the whole process.
The parent reads the phases this child finished through a pipe; the phase after the
last one it heard is the one that crashed (none heard: the load crashed).

Phases, in order: ``loaded`` (model and context made), ``prompt`` (one batch of
several tokens in one sequence), ``single`` (one token), ``batch`` (one token for each
of several sequences that share the prompt, as consensus decodes).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

PHASES = ("loaded", "prompt", "single", "batch")
# Tells the child to kill itself with SIGILL at a phase, as a crashing CPU kernel would:
# "repack:batch" crashes the batch phase under the "repack" configuration, "*:loaded"
# crashes every configuration while loading. Comma-separated; for tests and support.
SIMULATE_CRASH_ENV = "QUORUM_PROBE_SIMULATE_CRASH"
_PROMPT_TOKENS = 16
_SEQUENCES = 4


def _simulated_crashes() -> set[tuple[str, str]]:
    wanted = set()
    for item in os.environ.get(SIMULATE_CRASH_ENV, "").split(","):
        config, _, phase = item.strip().partition(":")
        if config:
            wanted.add((config, phase or "batch"))
    return wanted


def _maybe_crash(config: str, phase: str, crashes: set[tuple[str, str]]) -> None:
    if (config, phase) in crashes or ("*", phase) in crashes:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file for a drill
        except (ImportError, ValueError, OSError):
            pass
        os.kill(os.getpid(), signal.SIGILL)


def run(conn: Connection, model_path: str, config: str, use_extra_bufts: bool) -> None:
    """Entry point of the child. Reports each phase it finished; exits when done."""
    crashes = _simulated_crashes()
    # The parent tells the user what happened; llama.cpp's own log would only add noise
    # on the terminal of whoever started Quorum.
    quiet = logging.getLogger("llama.cpp")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False

    def step(phase: str, work: Callable[[], None]) -> None:
        _maybe_crash(config, phase, crashes)
        work()
        conn.send(("phase", phase))

    try:
        import llama_cpp as llama

        from app.core.inference.backend import LlamaError, LoadedModel, new_context

        loaded: list[Any] = []

        def load() -> None:
            model = LoadedModel(model_path, use_extra_bufts=use_extra_bufts)
            loaded.extend([model, new_context(model, _probe_context())])

        try:
            step("loaded", load)
        except LlamaError as exc:
            conn.send(("refused", str(exc)))
            return
        _decode_shapes(llama, loaded[0], loaded[1], step)
        conn.send(("done", ""))
    except Exception as exc:  # anything else is a refusal with a reason, not a crash
        conn.send(("refused", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _probe_context() -> Any:
    from app.core.inference.backend import ContextSpec
    from app.core.inference.sampling import default_threads

    return ContextSpec(
        n_ctx=256,
        n_batch=64,
        n_threads=default_threads(),
        n_seq_max=_SEQUENCES,
        kv_unified=False,  # the layout consensus uses
    )


def _decode_shapes(
    llama: Any, model: Any, ctx: Any, step: Callable[[str, Callable[[], None]], None]
) -> None:
    tokens = (model.tokenize("Quorum checks this CPU. " * 8) * 2)[:_PROMPT_TOKENS]
    batch = llama.llama_batch_init(max(_PROMPT_TOKENS, _SEQUENCES), 0, _SEQUENCES)

    def decode(rows: list[tuple[int, int, int]], what: str) -> Callable[[], None]:
        return lambda: _decode(llama, ctx, batch, rows, what)

    def share_prompt() -> None:
        memory = llama.llama_get_memory(ctx)
        for seq in range(1, _SEQUENCES):
            llama.llama_memory_seq_cp(memory, 0, seq, -1, -1)

    try:
        step("prompt", decode([(t, pos, 0) for pos, t in enumerate(tokens)], "a prompt batch"))
        step("single", decode([(tokens[0], len(tokens), 0)], "a single token"))
        share_prompt()
        rows = [(tokens[seq], len(tokens) + 1, seq) for seq in range(_SEQUENCES)]
        step("batch", decode(rows, "a batch of several sequences"))
    finally:
        llama.llama_batch_free(batch)
        llama.llama_free(ctx)
        model.close()


def _decode(llama: Any, ctx: Any, batch: Any, rows: list[tuple[int, int, int]], what: str) -> None:
    """Rows of (token, position, sequence); every row asks for logits, as sampling does."""
    for i, (token, pos, seq) in enumerate(rows):
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = 1
    batch.n_tokens = len(rows)
    rc = int(llama.llama_decode(ctx, batch))
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc} for {what}")
