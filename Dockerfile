# One image for every role: `zapq api` (the default), `zapq worker`, `zapq schedule` (and the
# operator once it exists), chosen by the container's args. Built from the repository root:
#   docker build -t zapq:0.1.0 --build-arg VCS_REF="$(git rev-parse HEAD)" .
# tests/packaging/test_dockerfile.py lints this file with hadolint and replays its install steps.

# The same pinned base in both stages: the venv's bin/python is a symlink to this image's
# /usr/local/bin/python3.11, so the runtime stage must be exactly the image that built the venv.
# Bookworm matches the Debian release the developers and CI run on.
FROM python:3.11.17-slim-bookworm AS builder

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# Dependencies first, read from pyproject.toml alone: this layer is rebuilt when pyproject.toml
# changes, not on every source edit. --only-binary: the slim base has no compiler, so a dependency
# without a wheel fails here, by name, rather than halfway through a C build. Bytecode is compiled
# once, with unchecked hashes: the pycs stay valid whatever mtimes the layers end up with, and the
# read-only runtime never needs to write one.
COPY pyproject.toml ./
RUN python -m venv "$VIRTUAL_ENV" \
    && python -c 'import tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(*deps, sep="\n")' > requirements.txt \
    && pip install --no-cache-dir --no-compile --only-binary=:all: -r requirements.txt \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$VIRTUAL_ENV/lib"

# Then the project itself (its Lua scripts and JSON schema come along as package data).
COPY README.md ./
COPY service ./service
RUN pip install --no-cache-dir --no-compile --no-deps . \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$VIRTUAL_ENV/lib/python3.11/site-packages/service"


FROM python:3.11.17-slim-bookworm AS runtime

ARG VERSION=0.1.0
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="zapq" \
      org.opencontainers.image.description="WhatsApp notifications at scale: HTTP API, scheduler, rate-limited workers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.17-slim-bookworm"

# Read-only root filesystem: nothing writes bytecode at run time (it is compiled above), and HOME
# points at /tmp, the only writable path (an emptyDir in Kubernetes).
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

# Only the venv: no compiler, no pip cache, no source tree. Owned by root, so the service user
# cannot modify its own code.
COPY --from=builder /opt/venv /opt/venv

# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd entry.
USER 10001:10001

# 8000: the API (ZAPQ_API__PORT); 9100: each worker's /metrics, /healthz, /readyz (ZAPQ_METRICS__PORT).
EXPOSE 8000 9100
ENTRYPOINT ["zapq"]
CMD ["api"]
