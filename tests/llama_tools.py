"""Build llama.cpp's own C++ tools (``llama-server``, ``llama-batched-bench``) from the
llama.cpp source vendored in the llama-cpp-python sdist, the same source the Python
binding was compiled from, once per machine, into a cache.

    python -m tests.llama_tools            # build if needed, print the binaries' paths

Tests start ``llama-server`` from here; benchmarks compare against
``llama-batched-bench``. The cache key holds the package version, the CMake
arguments and the CPU flags (a native build is only valid on the CPU it was made on),
so a rebuild happens exactly when the result could differ. A file lock keeps two
processes (two pytest runs, a benchmark beside the suite) from building at once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TextIO

from filelock import FileLock

TOOLS = ("llama-server", "llama-batched-bench")
PACKAGE = "llama-cpp-python"

# Everything here must build offline: no curl, no TLS library, and no web UI (the
# prebuilt UI would be fetched from the Hugging Face hub at build time).
_BASE_CMAKE_ARGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
)


def cache_root() -> Path:
    configured = os.environ.get("QUORUM_LLAMA_TOOLS_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "quorum-llama-tools"


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


def cmake_args() -> list[str]:
    # The same CMAKE_ARGS a user gave pip for llama-cpp-python (for example
    # -DGGML_NATIVE=OFF on a CPU that crashes the native build) apply to the tools.
    return [*_BASE_CMAKE_ARGS, *shlex.split(os.environ.get("CMAKE_ARGS", ""))]


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def build_key() -> str:
    material = "\n".join([package_version(), *cmake_args(), _cpu_flags()])
    return f"{package_version()}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def build_dir() -> Path:
    return cache_root() / build_key()


def tool_path(name: str) -> Path:
    """The path of one built tool, building every tool first if the cache lacks it."""
    if name not in TOOLS:
        raise ValueError(f"unknown llama.cpp tool {name!r}; known: {', '.join(TOOLS)}")
    target = build_dir() / "bin" / name
    if not target.exists():
        build_tools()
    return target


def build_tools(log: Path | None = None) -> Path:
    """Build every tool into the cache (under a lock) and return the bin folder."""
    out = build_dir()
    bin_dir = out / "bin"
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if all((bin_dir / name).exists() for name in TOOLS):
            return bin_dir
        log = log or out / "build.log"
        source = _vendored_source(out)
        build = out / "build"
        cmake = _tool("cmake") or "cmake"
        ninja = _tool("ninja")
        generator = ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else []
        jobs = str(os.cpu_count() or 2)
        with log.open("w") as sink:
            _run([cmake, "-S", str(source), "-B", str(build), *generator, *cmake_args()], sink)
            _run([cmake, "--build", str(build), "--target", *TOOLS, "-j", jobs], sink)
        staged = out / "bin.partial"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        for name in TOOLS:
            shutil.copy2(build / "bin" / name, staged / name)
        staged.replace(bin_dir)
        # The object files are large and never reused: the key changes with any input.
        shutil.rmtree(build, ignore_errors=True)
        return bin_dir


def _tool(name: str) -> str | None:
    """A build tool from this Python's environment (the test extras install CMake and
    Ninja there, off PATH when the venv is not activated), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _vendored_source(out: Path) -> Path:
    source = out / "src"
    marker = source / "CMakeLists.txt"
    if marker.exists():
        return source
    sdist = _sdist(cache_root() / "sdist")
    with tempfile.TemporaryDirectory(dir=out) as unpack:
        with tarfile.open(sdist) as archive:
            prefix = f"{archive.getnames()[0].split('/')[0]}/vendor/llama.cpp/"
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            for member in members:
                member.name = member.name[len(prefix) :]
            archive.extractall(unpack, members=[m for m in members if m.name], filter="data")
        shutil.rmtree(source, ignore_errors=True)
        Path(unpack).replace(source)
        Path(unpack).mkdir()  # TemporaryDirectory removes what it made on exit
    return source


def _sdist(folder: Path) -> Path:
    version = package_version()
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    # Package registries are reachable from every machine this runs on; pip also
    # answers from its own HTTP cache when it has the file.
    command = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={version}"]
    command += ["--no-binary", ":all:", "--no-deps", "--quiet", "-d", str(folder)]
    subprocess.run(command, check=True)
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if not found:
        raise RuntimeError(f"pip download gave no sdist of {PACKAGE} {version} in {folder}")
    return found[0]


def _run(command: list[str], sink: TextIO) -> None:
    print("$", shlex.join(command), file=sink, flush=True)
    done = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}); see {sink.name}")


if __name__ == "__main__":
    folder = build_tools()
    for tool in TOOLS:
        print(folder / tool)
