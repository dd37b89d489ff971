"""requirements/image.lock, what the image installs, against pyproject.toml: every runtime
dependency (and each extra's packages, and the build backend) is in it, pinned within
pyproject.toml's range, with hashes. Change one without the other (scripts/lock_image.sh) and
these fail."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.packaging.dockerfile import REPO

LOCK = REPO / "requirements" / "image.lock"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# The image's interpreter and platform: markers are read as there (slim Debian, CPython 3.11).
IMAGE_ENV = {
    **default_environment(),
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "python_version": "3.11",
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?: \\)?$")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}(?: \\)?$")


@dataclass
class Pin:
    version: Version
    hashes: int = 0


def locked() -> dict[str, Pin]:
    """The lock's entries by canonical name; every line is a pin, a hash or a comment."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if pin := _PIN.match(line):
            current = pins.setdefault(canonicalize_name(pin[1]), Pin(Version(pin[2])))
        else:
            assert current is not None and _HASH.match(line), f"not a pin or a hash: {line!r}"
            current.hashes += 1
    return pins


def runtime_requirements() -> list[Requirement]:
    requirements = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(IMAGE_ENV)]


def extra_packages(requirement: Requirement) -> set[str]:
    """What ``name[extra]`` adds, read from the installed distribution's metadata."""
    added = set()
    for text in importlib.metadata.requires(requirement.name) or []:
        needed = Requirement(text)
        for extra in requirement.extras:
            if needed.marker is not None and needed.marker.evaluate({**IMAGE_ENV, "extra": extra}):
                added.add(canonicalize_name(needed.name))
    return added


def test_every_entry_is_pinned_with_hashes() -> None:
    pins = locked()
    assert len(pins) > 20
    assert not [name for name, pin in pins.items() if pin.hashes == 0]


def test_the_lock_covers_every_runtime_dependency() -> None:
    pins = locked()
    missing = [r.name for r in runtime_requirements() if canonicalize_name(r.name) not in pins]
    assert not missing, f"not in {LOCK.name}: {missing}; run scripts/lock_image.sh"


def test_locked_versions_are_within_pyprojects_ranges() -> None:
    pins = locked()
    outside = [
        f"{r.name}=={pins[canonicalize_name(r.name)].version} (wants {r.specifier})"
        for r in runtime_requirements()
        if not r.specifier.contains(pins[canonicalize_name(r.name)].version, prereleases=True)
    ]
    assert not outside, f"run scripts/lock_image.sh: {outside}"


def test_the_lock_covers_the_extras_and_the_build_backend() -> None:
    pins = locked()
    wanted = {name for r in runtime_requirements() if r.extras for name in extra_packages(r)}
    assert {"hiredis", "uvloop", "httptools"} <= wanted  # redis[hiredis], uvicorn[standard]
    backend = {canonicalize_name(Requirement(text).name) for text in
               PYPROJECT["build-system"]["requires"]}  # fmt: skip
    assert not (wanted | backend) - set(pins), "run scripts/lock_image.sh"


def test_the_lock_says_how_it_was_made() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert "#    scripts/lock_image.sh" in header
    script = (REPO / "scripts" / "lock_image.sh").read_text(encoding="utf-8")
    assert "--generate-hashes" in script and "requirements/image.lock" in script
