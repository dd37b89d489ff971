"""ZAPQ_REDIS_URL: one Redis, a Sentinel-managed master or a Redis Cluster; a bad URL or limit is
one line naming the variable, never its value (a URL may carry a password)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool

from service.config_errors import EXIT_INVALID_SETTINGS
from service.redis import create_redis, parse_redis_url
from service.redis_cluster import SlotOwnerPool, SlotOwnerSSLConnection
from service.settings import Settings
from tests.test_config_errors import zapq

PASSWORD = "s3cr3t-pa55"


def test_one_redis_urls_are_redis_pys() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://u:p@h:1/2", "unix:///run/redis.sock"):
        assert parse_redis_url(url).kind == "standalone"


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    url = f"redis+sentinel://:{PASSWORD}@s1:26380,s2,[::1]:26381/main/3?sentinel_password=x%40y"
    target = parse_redis_url(url)
    assert target.kind == "sentinel"
    assert target.nodes == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (target.master, target.options["db"], target.options["password"]) == (
        "main",
        3,
        PASSWORD,
    )
    assert target.sentinel_options == {"password": "x@y"}


def test_a_cluster_url_names_seed_nodes_and_tls() -> None:
    target = parse_redis_url("rediss+cluster://user:pw@n1:7000,n2:7001?ssl_cert_reqs=none")
    assert (target.kind, target.nodes) == ("cluster", (("n1", 7000), ("n2", 7001)))
    assert target.options["connection_class"] is SSLConnection
    assert (target.options["username"], target.options["ssl_cert_reqs"]) == ("user", "none")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://h", "the scheme must be one of"),
        ("redis+sentinel://h1,h2", "path is /<master name>"),
        ("redis+sentinel://h1/m/x", "path is /<master name>"),
        ("redis+cluster://h1/3", "takes no path"),
        ("redis+cluster://h1:99999", "port must be"),
        ("redis+cluster://h1,,h2", "host or host:port"),
    ],
)
def test_bad_urls_name_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_redis_url(url)
    assert problem in str(raised.value)


async def test_each_kind_gets_its_pool_and_the_client_class_asked_for() -> None:
    class Custom(Redis):
        pass

    sentinel = create_redis(
        Settings(redis_url="redis+sentinel://127.0.0.1:1/m"), "t", client_class=Custom
    )
    cluster = create_redis(Settings(redis_url="rediss+cluster://127.0.0.1:1"), "t")
    try:
        assert isinstance(sentinel, Custom)
        assert isinstance(sentinel.connection_pool, SentinelConnectionPool)
        assert isinstance(cluster.connection_pool, SlotOwnerPool)
        assert cluster.connection_pool.connection_class is SlotOwnerSSLConnection
    finally:
        await sentinel.aclose()
        await cluster.aclose()


def test_a_bad_url_is_one_line_without_the_password() -> None:
    done = zapq("api", ZAPQ_REDIS_URL=f"redis+cluster://:{PASSWORD}@h1:70000")
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert done.stderr.splitlines() == [
        "zapq: invalid setting ZAPQ_REDIS_URL: a node's port must be >= 1 and <= 65535"
    ]
    assert PASSWORD not in done.stdout + done.stderr


def test_the_backpressure_limits_report_like_every_setting() -> None:
    done = zapq("worker", ZAPQ_API__MAX_REDIS_MEMORY_RATIO="1.5", ZAPQ_API__MAX_READY_MESSAGES="-1")
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert sorted(done.stderr.splitlines()) == [
        "zapq: invalid setting ZAPQ_API__MAX_READY_MESSAGES: must be >= 0",
        "zapq: invalid setting ZAPQ_API__MAX_REDIS_MEMORY_RATIO: must be <= 1",
    ]
