# One image for every role: `zapq api` (the default), `zapq worker`, `zapq schedule` (and the
# operator once it exists), chosen by the container's args. Built from the repository root:
#   docker build -t zapq:0.1.0 --build-arg VCS_REF="$(git rev-parse HEAD)" .
# tests/packaging/test_dockerfile.py lints this file with hadolint and replays its install steps.

# The same base in both stages: the venv's bin/python is a symlink to this image's
# /usr/local/bin/python3.11, so the runtime stage must be exactly the image that built the venv.
# Bookworm matches the Debian release the developers and CI run on. A tag can be moved; a digest
# cannot. To pin one, read the tag's current digest (multi-arch index) where a registry is in reach:
#   docker buildx imagetools inspect python:3.11.17-slim-bookworm   (the "Digest:" line), or
#   docker pull python:3.11.17-slim-bookworm && \
#     docker inspect --format '{{index .RepoDigests 0}}' python:3.11.17-slim-bookworm
# and build with
#   --build-arg PYTHON_IMAGE=python:3.11.17-slim-bookworm@sha256:<digest>
# (or change the default below to that reference, keeping the tag for readers and Renovate).
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# Dependencies first, exactly as locked: requirements/image.lock pins every package (the runtime
# dependencies of pyproject.toml and its build backend) with the hashes of its wheels, so a
# release published later, or a file swapped on the index, cannot enter the image. scripts/
# lock_image.sh regenerates it from pyproject.toml. --no-deps: the lock is complete, nothing is
# resolved here. This layer is rebuilt when the lock changes, not on every source edit.
# --only-binary: the slim base has no compiler, so a dependency without a wheel fails here, by
# name, rather than halfway through a C build. Bytecode is compiled once, with unchecked hashes:
# the pycs stay valid whatever mtimes the layers end up with, and the read-only runtime never needs
# to write one.
COPY requirements/image.lock ./
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir --no-compile --only-binary=:all: --require-hashes --no-deps -r image.lock \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$VIRTUAL_ENV/lib"

# Then the project itself (its Lua scripts and JSON schema come along as package data), built by
# the locked setuptools already in the venv: no build isolation, so nothing unpinned is fetched.
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir --no-compile --no-deps --no-build-isolation . \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$VIRTUAL_ENV/lib/python3.11/site-packages/service"


FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="zapq" \
      org.opencontainers.image.description="WhatsApp notifications at scale: HTTP API, scheduler, rate-limited workers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

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
