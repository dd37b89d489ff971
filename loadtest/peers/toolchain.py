"""The peers' own environments, built on first use and rebuilt when their pins change.

Python peers: a virtualenv at .tools/peers from requirements.txt (never zapq's dependencies).
BullMQ: ``npm ci`` of bullmq/package-lock.json into bullmq/node_modules. Both are git-ignored.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / ".tools" / "peers"
REQUIREMENTS = HERE / "requirements.txt"
BULLMQ_DIR = HERE / "bullmq"
_STAMP = ".zapq-peers-stamp"


class ToolchainError(RuntimeError):
    pass


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fresh(directory: Path, pins: Path) -> bool:
    stamp = directory / _STAMP
    return stamp.exists() and stamp.read_text() == _digest(pins)


def _run(args: list[str], cwd: Path = REPO) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")


def peers_python() -> Path:
    """The interpreter of .tools/peers, (re)built when requirements.txt changed."""
    python = VENV / "bin" / "python"
    if not (python.exists() and _fresh(VENV, REQUIREMENTS)):
        print(f"building {VENV} from {REQUIREMENTS.name} ...", file=sys.stderr, flush=True)
        shutil.rmtree(VENV, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(VENV)])
        _run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
        (VENV / _STAMP).write_text(_digest(REQUIREMENTS))
    return python


def node() -> str:
    """The node binary, after ``npm ci`` of the pinned BullMQ when package-lock.json changed."""
    found, npm = shutil.which("node"), shutil.which("npm")
    if not found or not npm:
        raise ToolchainError("the BullMQ peer needs node and npm on PATH")
    modules = BULLMQ_DIR / "node_modules"
    lock = BULLMQ_DIR / "package-lock.json"
    if not _fresh(modules, lock):
        print(f"npm ci in {BULLMQ_DIR} ...", file=sys.stderr, flush=True)
        _run([npm, "ci", "--no-audit", "--no-fund"], cwd=BULLMQ_DIR)
        (modules / _STAMP).write_text(_digest(lock))
    return found
