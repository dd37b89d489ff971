#!/usr/bin/env bash
# Regenerates requirements/image.lock: every package the container image installs, pinned with
# its hashes, resolved from pyproject.toml's [project].dependencies plus its build backend
# ([build-system].requires: the image builds zapq itself without build isolation).
# The Dockerfile installs exactly this file (pip --require-hashes --no-deps), so run this after
# changing the dependencies in pyproject.toml and commit the result;
# tests/packaging/test_lock.py fails while the two disagree.
#
# Hashes are of every wheel of each pinned release (all platforms), so the lock serves amd64 and
# arm64 builds alike; markers are resolved for Linux and Python 3.11, the base image's.
set -euo pipefail
cd "$(dirname "$0")/.."

# uv resolves and hashes; pinned so that two people locking the same pyproject.toml agree.
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}
if ! .tools/lock/bin/uv --version 2>/dev/null | grep -qx "uv $UV_VERSION.*"; then
  "$PYTHON" -m venv .tools/lock
  .tools/lock/bin/python -m pip install --quiet "uv==$UV_VERSION"
fi

"$PYTHON" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' |
  .tools/lock/bin/uv pip compile pyproject.toml - \
    --quiet \
    --generate-hashes \
    --python-version 3.11 \
    --python-platform linux \
    --only-binary :all: \
    --annotation-style line \
    --custom-compile-command "scripts/lock_image.sh" \
    --output-file requirements/image.lock
