"""Fill a real disk under a running ``quorum models download``, then let it resume.

Run inside a private mount namespace so that no root is needed and the mount goes
away with the process::

    unshare --user --map-root-user --mount python -m tests.disk_full MOUNT REPO FILE

It mounts a small tmpfs on MOUNT, points the models folder there, starts the real
CLI, waits until the partial has some bytes, then fills the disk with another file
(as another program would). After the CLI has exited it deletes that file and runs
the same command again. Prints one JSON object with what both runs said and did.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The download's free-space check wants the file plus a 200 MiB margin before it starts.
TMPFS_SIZE = "216m"
FILL_AFTER = 400_000


def quorum(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the disk is full; returns the bytes written."""
    block = b"\0" * (1 << 20)
    written = 0
    with path.open("wb", buffering=0) as handle:
        try:
            while True:  # the last write comes up short, the next one fails
                written += handle.write(block) or 0
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return written


def main(mount: str, repo: str, filename: str) -> dict[str, Any]:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", mount], check=True)
    models = Path(mount) / "models"
    env = {**os.environ, "QUORUM_MODELS_DIR": str(models)}
    target = models / repo.replace("/", "--") / filename
    part = target.with_name(target.name + ".part")
    child = quorum("models", "download", repo, filename, env=env)
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size >= FILL_AFTER):
        if time.monotonic() > deadline or child.poll() is not None:
            child.kill()
            out, err = child.communicate()
            raise SystemExit(f"the download never reached {FILL_AFTER} bytes: {out} {err}")
        time.sleep(0.02)
    filler = Path(mount) / "filler"
    filled = fill(filler)
    out, err = child.communicate(timeout=60)
    first = {
        "rc": child.returncode,
        "stdout": out,
        "stderr": err,
        "kept": part.stat().st_size if part.exists() else None,
        "filled": filled,
    }
    filler.unlink()
    again = quorum("models", "download", repo, filename, env=env)
    out, err = again.communicate(timeout=60)
    second = {"rc": again.returncode, "stdout": out, "stderr": err}
    sha256 = hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else None
    return {"first": first, "second": second, "sha256": sha256}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
