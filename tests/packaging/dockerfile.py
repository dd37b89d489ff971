"""Reading a Dockerfile and replaying its build without a Docker engine (tests/packaging).

The replay executes the Dockerfile's own ENV, ARG, WORKDIR, COPY and RUN instructions as plain
commands, every absolute image path under one host folder; test_dockerfile.py describes why.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
# Instructions the replay does not need to run: image metadata, and USER (nothing RUNs after it).
METADATA = {"LABEL", "EXPOSE", "USER", "ENTRYPOINT", "CMD", "STOPSIGNAL", "HEALTHCHECK"}
# The build host's network settings (proxy, CA bundle, package index), which a real build gets
# from its builder too; they are not part of the image.
NETWORK_ENV = re.compile(r"PIP_\w+|\w+_PROXY|\w+_proxy|SSL_CERT_\w+|REQUESTS_CA_BUNDLE")
# An absolute path in an instruction: not after a word, a dot, a slash or `$VAR`; /dev stays.
IMAGE_PATH = re.compile(r"(?<![\w./$}-])/(?!dev/)[\w.-]+(?:/[\w.*-]+)*")
GLOB = re.compile(r"\*\*/|\*\*|\*|\?|\[[^\]]*\]|[^*?\[]+")
GLOB_REGEX = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
# Root without these capabilities is bound by file modes, as the image's user is: the replayed
# interpreter lives under /root (mode 700), so the test cannot switch to uid 10001 itself.
UNPRIVILEGED = ["--inh-caps=-dac_override,-dac_read_search,-fowner"]
UNPRIVILEGED.append(UNPRIVILEGED[0].replace("--inh-caps", "--bounding-set"))


@dataclass
class Stage:
    base: str
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for kw, args in self.steps if kw == keyword]

    def env(self) -> dict[str, str]:
        return {k: v for args in self.args("ENV") for k, v in assignments(args).items()}


def parse(text: str, build_args: dict[str, str] | None = None) -> list[Stage]:
    """Instructions by stage, as Docker reads them: continuations joined, comment lines dropped,
    ARGs before the first FROM (their defaults, or ``build_args``) expanded in FROM lines."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    logical = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        logical += line.rstrip()
        if logical.endswith("\\"):
            logical = logical[:-1]
            continue
        keyword, _, args = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            image = substitute(args.strip(), global_args)
            base, *alias = re.split(r"\s+as\s+", image, flags=re.IGNORECASE)
            stages.append(Stage(base, alias[0] if alias else str(len(stages))))
        elif not stages and keyword.upper() == "ARG":
            global_args |= assignments(args) | (build_args or {})
        else:
            stages[-1].steps.append((keyword.upper(), args.strip()))
    return stages


def words(args: str) -> list[str]:
    """An instruction's arguments: exec form (a JSON array) or shell words."""
    return list(json.loads(args)) if args.startswith("[") else shlex.split(args)


def assignments(args: str) -> dict[str, str]:
    """NAME=value words; an ARG without a default (``ARG NAME``) assigns nothing."""
    return dict(word.split("=", 1) for word in shlex.split(args) if "=" in word)


def substitute(text: str, values: dict[str, str]) -> str:
    """$NAME and ${NAME} replaced by their values ("" when unset, as Docker does)."""
    return re.sub(r"\$\{?(\w+)\}?", lambda match: values.get(match.group(1), ""), text)


def dockerignore(context: Path) -> Callable[[str], bool]:
    """Docker's rule: the last pattern that matches a path, or one of its folders, decides."""
    rules = []
    for line in (context / ".dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = line.strip()
        if pattern and not pattern.startswith("#"):
            glob = pattern.removeprefix("!").strip("/")
            regex = "".join(
                GLOB_REGEX.get(t, t if t[0] == "[" else re.escape(t)) for t in GLOB.findall(glob)
            )
            rules.append((pattern.startswith("!"), re.compile(regex)))

    def ignored(path: str) -> bool:
        parts = path.split("/")
        folders = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        decision = False
        for negated, regex in rules:
            if any(regex.fullmatch(folder) for folder in folders):
                decision = not negated
        return decision

    return ignored


class Replay:
    """Runs a Dockerfile's stages with every image path under one host folder, `root`."""

    def __init__(self, work: Path, context: Path) -> None:
        self.work, self.context, self.root = work, context, work / "root"
        self.ignored = dockerignore(context)
        self.finished: dict[str, Path] = {}
        # The base image's `python`: a real interpreter (not a venv) for `python -m venv` to link.
        shim = work / "bin"
        shim.mkdir()
        for name in (
            "python",
            "python3",
            f"python{sys.version_info.major}.{sys.version_info.minor}",
        ):
            (shim / name).write_text(f'#!/bin/sh\nexec "{sys._base_executable}" "$@"\n')
            (shim / name).chmod(0o755)
        self.base_env = {"PATH": f"{shim}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        # HOME stays the host's so that pip's default cache outlives the test (see run()).
        self.base_env["HOME"] = os.environ.get("HOME", str(work))
        self.network = {k: v for k, v in os.environ.items() if NETWORK_ENV.fullmatch(k)}

    def image_path(self, text: str) -> str:
        return IMAGE_PATH.sub(lambda match: f"{self.root}{match.group(0)}", text)

    def expand(self, text: str, env: dict[str, str]) -> str:
        return substitute(text, env)

    def build(self, stages: list[Stage]) -> dict[str, str]:
        """Every stage in order; only the last one's root is left. Returns its environment."""
        env: dict[str, str] = {}
        for stage in stages:
            assert stage.base not in self.finished, "FROM <an earlier stage> is not replayed"
            env = self.stage(stage)
            self.finished[stage.name] = self.root.rename(self.work / f"stage-{stage.name}")
        self.finished.pop(stages[-1].name).rename(self.root)
        for saved in self.finished.values():
            shutil.rmtree(saved)
        return env

    def stage(self, stage: Stage) -> dict[str, str]:
        (self.root / "tmp").mkdir(parents=True)
        env, cwd = dict(self.base_env), self.root
        for keyword, args in stage.steps:
            if keyword in {"ENV", "ARG"}:
                values = assignments(args) if "=" in args else {}
                env |= {k: self.expand(self.image_path(v), env) for k, v in values.items()}
            elif keyword == "WORKDIR":
                cwd = Path(self.image_path(self.expand(args, env)))
                cwd.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self.copy(words(self.expand(args, env)), cwd)
            elif keyword == "RUN":
                self.run(args, env, cwd)
            else:
                assert keyword in METADATA, f"{keyword} is not replayed"
        return env

    def copy(self, argv: list[str], cwd: Path) -> None:
        flags = [arg for arg in argv if arg.startswith("--")]
        *sources, dest = [arg for arg in argv if not arg.startswith("--")]
        origin = self.context
        for flag in flags:
            if flag.startswith("--from="):
                origin = self.finished[flag.removeprefix("--from=")]
            else:
                assert flag.startswith(("--chown=", "--chmod=", "--link")), flag
        target = Path(self.image_path(dest)) if dest.startswith("/") else cwd / dest
        for source in sources:
            path = origin / source.lstrip("/")
            if path.is_dir():
                shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True, ignore=self.skip)
            else:
                assert origin != self.context or not self.ignored(source), f"{source} is ignored"
                if dest.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name if dest.endswith("/") else target)

    def skip(self, folder: str, names: list[str]) -> set[str]:
        """copytree's filter: what .dockerignore keeps out of the build context."""
        if not Path(folder).is_relative_to(self.context):
            return set()
        relative = Path(folder).relative_to(self.context).as_posix()
        return {name for name in names if self.ignored(f"{relative}/{name}")}

    def run(self, args: str, env: dict[str, str], cwd: Path) -> None:
        command = self.image_path(args)
        # The image keeps no pip cache (--no-cache-dir: a cache inside a layer is dead weight). The
        # replay drops just that flag so that pip's default cache spares the next run the downloads.
        command = re.sub(r"\s--no-cache-dir(?=\s)", "", command)
        argv = json.loads(command) if command.startswith("[") else ["/bin/sh", "-c", command]
        result = subprocess.run(
            argv, cwd=cwd, env=self.network | env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, (
            f"RUN {args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


@dataclass
class Image:
    root: Path
    env: dict[str, str]

    @property
    def package(self) -> Path:
        (package,) = Path(self.env["VIRTUAL_ENV"]).glob("lib/python3.*/site-packages/service")
        return package

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command of the image, as root without the right to ignore file modes."""
        executable = shutil.which(argv[0], path=self.env["PATH"])
        assert executable is not None and executable.startswith(str(self.root)), argv[0]
        prefix = ["setpriv", *UNPRIVILEGED] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, executable, *argv[1:]],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path outside /tmp with its mode, size and mtime."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != root / "tmp"]
        for name in dirs + names:
            stat = Path(folder, name).lstat()
            files[str(Path(folder, name).relative_to(root))] = (
                stat.st_mode,
                stat.st_size,
                stat.st_mtime_ns,
            )
    return files


def make_read_only(root: Path) -> None:
    """chmod -R a-w, but for /tmp (an emptyDir in Kubernetes)."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != root / "tmp"]
        for path in [Path(folder), *(Path(folder, n) for n in names)]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
