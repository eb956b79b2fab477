"""The installers' inputs (spec, desktop entry, icons, workflow) and ``--self-test``.

The frozen-build tests at the end run only with QUORUM_TEST_FROZEN=1, after
``bash packaging/build_linux.sh`` (or another platform's build) has produced dist/.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from app import __version__, selftest
from app.core.models import catalog

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
SPEC = PACKAGING / "quorum.spec"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icons", PACKAGING / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def spec_names(*names: str) -> dict[str, Any]:
    """Evaluate the spec's top-level assignments and functions called ``names``."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    wanted = [
        node
        for node in tree.body
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in names for t in node.targets)
        )
        or (isinstance(node, ast.FunctionDef) and node.name in names)
    ]
    namespace: dict[str, Any] = {"re": re}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace


# -- the PyInstaller spec ---------------------------------------------------------------


def test_spec_is_valid_python_that_excludes_unused_qt_and_keeps_what_the_app_uses() -> None:
    values = spec_names("UNUSED_QT", "EXCLUDES")
    unused = set(values["UNUSED_QT"])
    for heavy in ("QtWebEngineCore", "Qt3DCore", "QtQuick", "QtQml", "QtMultimedia", "QtPdf"):
        assert heavy in unused
    for used in ("QtCore", "QtGui", "QtWidgets", "QtCharts", "QtSvg"):
        assert used not in unused
    assert "PySide6.QtWebEngineWidgets" in values["EXCLUDES"]
    assert {"pytest", "tkinter"} <= set(values["EXCLUDES"])


def test_spec_library_filters_drop_unused_qt_and_keep_the_needed_parts() -> None:
    values = spec_names(
        "UNUSED_QT_LIBRARY", "UNUSED_QT_DATA", "UNUSED_LLAMA_LIBRARY", "HOST_PROVIDED"
    )
    dropped = [
        "PySide6/Qt/lib/libQt6WebEngineCore.so.6",
        "PySide6/Qt/lib/libQt6Quick.so.6",
        "PySide6/Qt/lib/libQt6Qml.so.6",
        "PySide6/Qt/lib/libQt6Pdf.so.6",
        "PySide6/Qt/lib/libQt6Network.so.6",
        "PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6",
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
        "PySide6/Qt/plugins/platforms/libqvnc.so",
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/imageformats/libqpdf.so",
        "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
        "PySide6/Qt/translations/qtbase_de.qm",
    ]
    kept = [
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6Widgets.so.6",
        "PySide6/Qt/lib/libQt6Charts.so.6",
        "PySide6/Qt/lib/libQt6Svg.so.6",
        "PySide6/Qt/lib/libQt6OpenGLWidgets.so.6",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/imageformats/libqsvg.so",
        "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so",
        "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
        "PySide6/Qt/plugins/platforms/libqwayland.so",
        "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    ]

    def is_dropped(path: str) -> bool:
        return bool(
            values["UNUSED_QT_LIBRARY"].search(path) or values["UNUSED_QT_DATA"].search(path)
        )

    assert [p for p in dropped if not is_dropped(p)] == []
    assert [p for p in kept if is_dropped(p)] == []
    host = values["HOST_PROVIDED"]
    for name in ("libX11.so.6", "libxcb.so.1", "libglib-2.0.so.0", "libfontconfig.so.1"):
        assert host.match(name), name
    for name in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libgomp.so.1", "libstdc++.so.6"):
        assert not host.match(name), name
    assert values["UNUSED_LLAMA_LIBRARY"].search("libmtmd.so.0")
    assert not values["UNUSED_LLAMA_LIBRARY"].search("libggml-cpu.so.0")


def test_spec_drops_test_suites_but_not_modules_named_tests() -> None:
    is_test_suite = spec_names("is_test_suite")["is_test_suite"]
    assert is_test_suite("sympy.core.tests.test_basic", "sympy/core/tests/test_basic.py")
    assert is_test_suite("numpy._core.tests", "numpy/_core/tests/__init__.py")
    assert not is_test_suite("jinja2.tests", "jinja2/tests.py")  # jinja2's own tests filters
    assert not is_test_suite("numpy.testing", "numpy/testing/__init__.py")


def test_spec_bundles_resources_where_the_catalog_looks_for_them() -> None:
    source = SPEC.read_text(encoding="utf-8")
    assert '(str(REPO / "resources"), "resources")' in source
    assert '"llama_cpp/lib"' in source  # where llama_cpp's ctypes loader searches
    assert "bundle_identifier=BUNDLE_ID" in source and "quorum.icns" in source


def test_catalog_finds_resources_inside_a_pyinstaller_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = tmp_path / "resources"
    bundled.mkdir()
    shutil.copy(ROOT / "resources" / "catalog.json", bundled / "catalog.json")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert catalog.resources_dir() == bundled


# -- desktop entry and icons ---------------------------------------------------------------


def test_desktop_entry_is_valid_and_points_at_the_icon_and_command() -> None:
    path = ROOT / "resources" / "quorum.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Quorum"
    assert entry["Exec"].split()[0] == "quorum"  # the console script in pyproject.toml
    assert entry["Icon"] == "quorum" and (ICONS / "quorum-256.png").is_file()
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(path)], capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_icon_has_its_size(size: int) -> None:
    assert png_size((ICONS / f"quorum-{size}.png").read_bytes()) == (size, size)


def test_ico_holds_png_images_from_16_to_256() -> None:
    data = (ICONS / "quorum.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * i : 22 + 16 * i]
        )
        image = data[offset : offset + length]
        real = png_size(image)
        assert real == ((width or 256), (height or 256))
        sizes.append(real[0])
    assert sorted(sizes) == [16, 24, 32, 48, 64, 128, 256]


def test_icns_holds_retina_sizes_up_to_1024() -> None:
    data = (ICONS / "quorum.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    found: dict[bytes, tuple[int, int]] = {}
    pos = 8
    while pos < len(data):
        kind, length = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        found[kind] = png_size(data[pos + 8 : pos + length])
        pos += length
    assert found[b"ic07"] == (128, 128) and found[b"ic10"] == (1024, 1024)
    assert found[b"ic11"] == (32, 32) and len(found) == 8


def test_committed_svg_is_what_the_icon_script_draws() -> None:
    make_icons = load_make_icons()
    svg = make_icons.make_svg()
    assert (ICONS / "quorum.svg").read_text(encoding="utf-8") == svg
    root = ET.fromstring(svg)
    assert root.get("viewBox") == "0 0 512 512"
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == 3


def test_icon_containers_round_trip(tmp_path: Path) -> None:
    make_icons = load_make_icons()
    fake = {
        size: PNG_MAGIC + b"\0\0\0\rIHDR" + struct.pack(">II", size, size) for size in (16, 256)
    }
    ico = make_icons.build_ico(fake)
    assert struct.unpack("<HHH", ico[:6]) == (0, 1, 2)
    assert ico[6 + 16] == 0  # 256 px is written as 0 in an ICONDIRENTRY
    sizes = {size: fake[16] for _, size in make_icons.ICNS_TYPES}
    icns = make_icons.build_icns(sizes)
    assert struct.unpack(">I", icns[4:8])[0] == len(icns)


# -- build scripts, installer recipes, CI workflow ---------------------------------------


@pytest.mark.parametrize(
    "script", ["freeze.sh", "build_linux.sh", "build_macos.sh", "build_windows.sh", "smoke_test.sh"]
)
def test_build_scripts_are_valid_bash(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(PACKAGING / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_portable_llama_build_never_reuses_pip_s_wheel_cache() -> None:
    text = (PACKAGING / "freeze.sh").read_text(encoding="utf-8")
    assert "-DGGML_NATIVE=OFF" in text
    assert "PIP_CACHE_DIR=" in text and "--no-binary llama-cpp-python" in text


def test_workflow_builds_three_oses_on_tags_and_has_one_copy_per_place() -> None:
    workflow = ROOT / ".github" / "workflows" / "release.yml"
    copy = PACKAGING / "github-workflows" / "release.yml"
    assert workflow.read_text(encoding="utf-8") == copy.read_text(encoding="utf-8")
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    triggers = data[True]  # YAML 1.1 reads the key "on" as a boolean
    assert triggers["push"]["tags"] == ["v*"]
    matrix = data["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert {m["os"].split("-")[0] for m in matrix} == {"ubuntu", "macos", "windows"}
    for entry in matrix:
        assert (ROOT / entry["script"]).is_file()


def test_inno_setup_script_has_start_menu_uninstaller_and_vc_runtime() -> None:
    text = (PACKAGING / "windows" / "quorum.iss").read_text(encoding="utf-8")
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}", text, re.MULTILINE)
    assert '"{autoprograms}\\Quorum"' in text
    assert "vc_redist.x64.exe" in text and "VCRedistNeeded" in text
    assert 'Source: "{#Root}\\dist\\quorum\\*"' in text


# -- --self-test, unfrozen -------------------------------------------------------------------


def run_quorum(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.model
def test_self_test_loads_the_model_answers_and_opens_the_window(test_model_path: Path) -> None:
    result = run_quorum("--self-test", "--model", str(test_model_path))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines()[1:])
    assert lines["version"] == __version__
    assert lines["frozen"] == "no"
    assert re.match(r"\d+ tokens at [\d.]+ tokens/s \(seed 1234", lines["generation"])
    assert lines["answer"] != "(empty)"
    assert lines["maths checker"].startswith("1/2 == 2/4")
    assert "created on offscreen" in lines["gui"]
    assert lines["self-test"].startswith("passed")
    # Isolated by tests/conftest.py: the self-test reports these, never the user's own.
    assert lines["data dir"] == os.environ["QUORUM_DATA_DIR"]


def test_self_test_without_a_model_says_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--no-gui"]) == selftest.EXIT_FAILED
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--model" in err and "quorum models demo" in err


def test_self_test_with_a_missing_file_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert selftest.main(["--model", str(tmp_path / "nope.gguf")]) == selftest.EXIT_FAILED
    assert capsys.readouterr().err.strip() == (
        f"quorum: self-test failed: model file not found: {tmp_path / 'nope.gguf'}"
    )


def test_self_test_refuses_a_file_that_is_not_gguf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model at all" * 100)
    assert selftest.main(["--model", str(fake), "--no-gui"]) == selftest.EXIT_FAILED
    err = capsys.readouterr().err.strip()
    assert err.startswith("quorum: self-test failed: llama.cpp could not load fake.gguf")
    assert "\n" not in err


def test_self_test_rejects_a_zero_token_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--max-tokens", "0"]) == selftest.EXIT_USAGE
    assert "--max-tokens" in capsys.readouterr().err


# -- the frozen build (after packaging/build_linux.sh) ---------------------------------------

FROZEN = os.environ.get("QUORUM_TEST_FROZEN") == "1"
FROZEN_BIN = Path(os.environ.get("QUORUM_FROZEN_BIN", ROOT / "dist" / "quorum" / "quorum"))
needs_frozen = pytest.mark.skipif(
    not FROZEN, reason="set QUORUM_TEST_FROZEN=1 after building dist/ with packaging/"
)


def run_frozen(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    assert FROZEN_BIN.is_file(), f"no frozen build at {FROZEN_BIN}"
    return subprocess.run([str(FROZEN_BIN), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@needs_frozen
def test_frozen_app_reports_its_version_and_passes_its_self_test(test_model_path: Path) -> None:
    version = run_frozen("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"quorum {__version__}"
    result = run_frozen("--self-test", "--model", str(test_model_path))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines()[1:])
    assert lines["frozen"].startswith("yes")
    assert "(catalog: " in lines["resources"]
    assert "created on offscreen" in lines["gui"]
    assert lines["data dir"] == os.environ["QUORUM_DATA_DIR"]


@pytest.mark.slow
@needs_frozen
def test_frozen_app_downloads_a_catalog_model_from_the_hub(hub: Any) -> None:
    from tests.hubserver import small_gguf

    entry = next(e for e in catalog.load_catalog() if e.filename)
    hub.add_file(entry.repo, entry.filename, small_gguf(1_500_000))
    result = run_frozen("models", "download", entry.id)
    assert result.returncode == 0, result.stderr
    assert "downloaded and verified" in result.stdout
    listed = run_frozen("models", "list")
    row = next(line for line in listed.stdout.splitlines() if line.startswith(entry.id + " "))
    assert "verified" in row


@pytest.mark.slow
@needs_frozen
def test_frozen_bundle_leaves_out_unused_qt_and_tests() -> None:
    internal = FROZEN_BIN.parent / "_internal"
    names = [p.relative_to(internal).as_posix() for p in internal.rglob("*")]
    assert (internal / "resources" / "catalog.json").is_file()
    assert [n for n in names if re.search(r"WebEngine|Qt6Quick|Qt6Qml|Qt63D|Qt6Pdf", n)] == []
    assert [n for n in names if re.search(r"/tests?/", n)] == []
    assert any(n.startswith("llama_cpp/lib/libllama") for n in names)


@pytest.mark.slow
@needs_frozen
@pytest.mark.skipif(sys.platform != "linux", reason="moves the user folders through HOME")
def test_frozen_app_uses_the_same_folders_as_a_pip_install(
    tmp_path: Path, test_model_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "XDG_"))}
    env["HOME"] = str(tmp_path)  # platformdirs' Linux locations follow HOME

    def folders(command: list[str]) -> dict[str, str]:
        args = ["--self-test", "--no-gui", "--max-tokens", "1", "--model", str(test_model_path)]
        done = subprocess.run(
            command + args, capture_output=True, text=True, env=env, timeout=240, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        lines = dict(line.split(": ", 1) for line in done.stdout.splitlines()[1:])
        return {k: v for k, v in lines.items() if k.endswith(" dir")}

    frozen = folders([str(FROZEN_BIN)])
    assert frozen == folders([sys.executable, "-m", "app"])
    assert frozen["data dir"] == str(tmp_path / ".local" / "share" / "Quorum")
    assert frozen["config dir"] == str(tmp_path / ".config" / "Quorum")
