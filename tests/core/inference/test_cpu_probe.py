"""The CPU probe: real child processes on the real test model, and simulated crashes.

A crashing configuration is simulated by the child killing itself with SIGILL at a
chosen phase (``QUORUM_PROBE_SIMULATE_CRASH``), which is what a broken CPU kernel does.
On a machine whose repacked kernels really crash (a Xeon with AMX in a VM), the real
probe takes the same fallback path without any simulation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.inference import cpu_probe
from app.core.inference.cpu_probe import FORCE_ENV, NO_REPACK, REPACK, ProbeError, choose_config
from app.core.inference.engine import Engine, Finished, ModelLoadError
from app.core.inference.probe_child import SIMULATE_CRASH_ENV
from app.core.inference.sampling import RuntimeParams

pytestmark = pytest.mark.model


@pytest.fixture
def probing(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Undo the suite-wide forced configuration so the probe really runs."""
    monkeypatch.delenv(FORCE_ENV, raising=False)
    monkeypatch.delenv(SIMULATE_CRASH_ENV, raising=False)
    return monkeypatch


def _no_child(*_args: object) -> cpu_probe.Attempt:
    raise AssertionError("the probe started a child although it had the answer cached")


def test_real_probe_picks_fastest_surviving_config_and_remembers_it(
    probing: pytest.MonkeyPatch, test_model_path: Path
) -> None:
    verdict = choose_config(test_model_path)
    assert verdict.source == "probe"
    assert verdict.attempts[-1].outcome == "ok"
    assert verdict.attempts[-1].phase == "batch"  # every decode shape ran
    # The fastest configuration is kept unless it crashed here; then the note says why.
    if verdict.config is REPACK:
        assert verdict.note is None and len(verdict.attempts) == 1
    else:
        assert verdict.attempts[0].outcome in ("crashed", "hung")
        assert verdict.note and "slower" in verdict.note
    probing.setattr(cpu_probe, "run_child", _no_child)
    again = choose_config(test_model_path)
    assert (again.source, again.config, again.note) == ("cache", verdict.config, verdict.note)


def test_simulated_sigill_falls_back_and_says_why(
    probing: pytest.MonkeyPatch, test_model_path: Path, tmp_path: Path
) -> None:
    # At the prompt, where the real AMX crash strikes too: the same on every machine.
    probing.setenv(SIMULATE_CRASH_ENV, "repack:prompt")
    verdict = choose_config(test_model_path)
    assert verdict.config is NO_REPACK
    first = verdict.attempts[0]
    assert (first.config, first.outcome, first.phase) == ("repack", "crashed", "loaded")
    assert first.detail.startswith("SIGILL")
    assert verdict.note is not None and "crash in llama.cpp" in verdict.note
    assert "about 2× slower" in verdict.note
    cached = json.loads(cpu_probe.probe_cache_path().read_text())
    (hardware,) = cached["hardware"].values()
    assert hardware["config"] == "no-repack"
    # A new model file on the same build and CPU starts from the configuration that
    # survived: the crashing one is not tried again.
    other = shutil.copy(test_model_path, tmp_path / "other.gguf")
    seen: list[str] = []
    real_run_child = cpu_probe.run_child

    def counting(path: str | Path, config: cpu_probe.LlamaConfig) -> cpu_probe.Attempt:
        seen.append(config.name)
        return real_run_child(path, config)

    probing.setattr(cpu_probe, "run_child", counting)
    second = choose_config(other)
    assert seen == ["no-repack"]
    assert (second.config, second.note) == (NO_REPACK, verdict.note)


def test_engine_runs_with_the_chosen_config_after_a_crash(
    probing: pytest.MonkeyPatch, test_model_path: Path
) -> None:
    probing.setenv(SIMULATE_CRASH_ENV, "repack:single")
    with Engine(test_model_path, RuntimeParams(n_ctx=512)) as engine:
        assert engine.llama_config.config is NO_REPACK
        assert engine.llama_config.note
        events = list(engine.generate([{"role": "user", "content": "Say hi."}]))
    final = events[-1]
    assert isinstance(final, Finished) and final.result.completion_tokens > 0


def test_model_that_crashes_llama_cpp_on_load_gets_a_message(
    probing: pytest.MonkeyPatch, test_model_path: Path
) -> None:
    probing.setenv(SIMULATE_CRASH_ENV, "*:loaded")
    with pytest.raises(ModelLoadError, match=r"crashed while loading .*damaged"):
        Engine(test_model_path)
    assert not cpu_probe.probe_cache_path().exists()  # nothing vouched for


def test_every_config_crashing_says_how_to_get_a_build_that_fits(
    probing: pytest.MonkeyPatch, test_model_path: Path
) -> None:
    probing.setenv(SIMULATE_CRASH_ENV, "*:batch")
    with pytest.raises(ProbeError, match=r"does not suit this CPU.*GGML_NATIVE=OFF") as caught:
        choose_config(test_model_path)
    assert "repack: SIGILL" in str(caught.value) and "no-repack: SIGILL" in str(caught.value)


def test_forced_config_skips_the_probe(probing: pytest.MonkeyPatch, test_model_path: Path) -> None:
    probing.setattr(cpu_probe, "run_child", _no_child)
    probing.setenv(FORCE_ENV, "no-repack")
    verdict = choose_config(test_model_path)
    assert (verdict.config, verdict.source) == (NO_REPACK, "forced")
    assert "forced by QUORUM_LLAMA_CONFIG" in verdict.summary()
    probing.setenv(FORCE_ENV, "turbo")
    with pytest.raises(ModelLoadError, match="'turbo' is not a configuration; use one of"):
        Engine(test_model_path)


def test_refused_model_is_not_remembered_and_keeps_llama_cpp_reason(
    probing: pytest.MonkeyPatch, test_model_path: Path, tmp_path: Path
) -> None:
    from tests.gguf_edit import copy_with_string

    odd = copy_with_string(test_model_path, tmp_path / "odd.gguf", "general.architecture", "x")
    verdict = choose_config(odd)
    assert verdict.attempts[-1].outcome == "refused"
    assert "unknown model architecture" in verdict.attempts[-1].detail
    with pytest.raises(ModelLoadError, match="unknown model architecture: 'x'"):
        Engine(odd)
    cache = cpu_probe.probe_cache_path()
    models = json.loads(cache.read_text())["models"] if cache.exists() else {}
    assert all("odd.gguf" not in key for key in models)


def test_changed_model_file_is_probed_again(
    probing: pytest.MonkeyPatch, test_model_path: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copy(test_model_path, tmp_path / "m.gguf"))
    key = cpu_probe.model_file_key(copy)
    os.utime(copy, ns=(1, 1))
    assert cpu_probe.model_file_key(copy) != key


def test_exit_descriptions_name_the_signal() -> None:
    assert cpu_probe._exit_description(-signal.SIGILL).startswith("SIGILL: an instruction")
    assert cpu_probe._exit_description(-signal.SIGABRT) == "SIGABRT: llama.cpp aborted"
    assert cpu_probe._exit_description(3) == "exit code 3"


def test_cli_self_test_and_solve_show_the_configuration(
    probing: pytest.MonkeyPatch, test_model_path: Path, isolated_dirs: Path
) -> None:
    env = {**os.environ, SIMULATE_CRASH_ENV: "repack:batch"}
    env.pop(FORCE_ENV, None)
    cli = [sys.executable, "-m", "app"]
    self_test = subprocess.run(
        [*cli, "--self-test", "--no-gui", "--model", str(test_model_path), "--max-tokens", "4"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert self_test.returncode == 0, self_test.stderr
    line = next(x for x in self_test.stdout.splitlines() if x.startswith("llama.cpp config:"))
    assert "no-repack" in line and "crash in llama.cpp" in line and "probed in" in line
    solve = subprocess.run(
        [*cli, "solve", "What is 2+2?", "--model", str(test_model_path), "--json",
         "--max-tokens", "8", "--seed", "1"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert solve.returncode == 0, solve.stderr
    config = json.loads(solve.stdout)["params"]["llama_config"]
    assert config["name"] == "no-repack" and config["source"] == "cache"
    assert "crash in llama.cpp" in config["note"]
