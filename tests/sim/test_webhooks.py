"""Contract section 5: /webhook/set and /find, and the events the simulator posts."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import jwt
import pytest

from tests.sim.conftest import Evolution, envelope, set_webhook
from tests.sim.receiver import Receiver, wait_until
from tests.sim_fixture import SimControl


def wait_idle(sim: SimControl) -> dict[str, int]:
    """Wait until no webhook post is queued or in flight (with zero receipt delays, every
    chain of events is then complete); the webhook counters."""
    wait_until(lambda: not _busy(sim.stats()["webhooks"]), "webhook delivery to settle")
    return sim.stats()["webhooks"]  # type: ignore[no-any-return]


def _busy(counts: dict[str, int]) -> bool:
    return bool(counts["pending"] or counts["in_flight"])


BODY = {"number": "5511987650000", "text": "oi"}
#: Receipts at once, so the tests wait on events, not on delays.
NO_DELAYS = {"SERVER_ACK": 0, "DELIVERY_ACK": 0, "READ": 0}
ALL_ACKS = {"SERVER_ACK": 1, "DELIVERY_ACK": 1, "READ": 1}
#: A small first retry delay keeps a retry test short; the doubling is Evolution's.
FAST_RETRIES = {"webhook_retry_initial_delay_ms": 20, "webhook_retry_jitter_ratio": 0}


def test_set_answers_201_with_the_row_and_find_returns_it(evo: Evolution) -> None:
    assert evo.call("GET", "/webhook/find/zapq").json() is None, "no webhook yet"
    row = set_webhook(evo, "https://svc.example/hooks", headers={"x-token": "s3cret"})
    assert set(row) == {
        "id",
        "url",
        "headers",
        "enabled",
        "events",
        "webhookByEvents",
        "webhookBase64",
        "createdAt",
        "updatedAt",
        "instanceId",
    }
    assert re.fullmatch(r"c[0-9a-z]{24}", row["id"])
    assert (row["url"], row["headers"], row["enabled"]) == (
        "https://svc.example/hooks",
        {"x-token": "s3cret"},
        True,
    )
    assert len(row["events"]) == 31, "events [] stores every event"
    assert (row["webhookByEvents"], row["webhookBase64"]) == (False, False)
    found = evo.call("GET", "/webhook/find/zapq")
    assert (found.status_code, found.json()) == (200, row)
    again = set_webhook(evo, "https://other.example", events=["SEND_MESSAGE"], byEvents=True)
    assert (again["id"], again["events"], again["webhookByEvents"]) == (
        row["id"],
        ["SEND_MESSAGE"],
        True,
    )


def test_disabled_webhook_stores_no_events(evo: Evolution) -> None:
    row = set_webhook(evo, "https://svc.example", enabled=False, events=["SEND_MESSAGE"])
    assert (row["enabled"], row["events"]) == (False, [])


@pytest.mark.parametrize(
    ("webhook", "status", "message"),
    [
        (
            {"enabled": True, "url": "https://x.example"},
            500,
            "Cannot read properties of undefined (reading 'length')",
        ),
        ({"enabled": True, "url": ""}, 400, ['The "url" cannot be empty']),
        ({"url": "https://x.example", "events": []}, 400, ['webhook requires property "enabled"']),
        (
            {"enabled": "yes", "url": "https://x.example", "events": []},
            400,
            ["webhook.enabled is not of a type(s) boolean"],
        ),
    ],
)
def test_set_errors(evo: Evolution, webhook: dict[str, Any], status: int, message: Any) -> None:
    response = evo.call("POST", "/webhook/set/zapq", json={"webhook": webhook})
    reason = "Internal Server Error" if status == 500 else "Bad Request"
    assert (response.status_code, response.json()) == (status, envelope(status, reason, message))


def test_set_rejects_an_unknown_event_naming_the_enum(evo: Evolution) -> None:
    webhook = {"enabled": True, "url": "https://x.example", "events": ["NOPE"]}
    response = evo.call("POST", "/webhook/set/zapq", json={"webhook": webhook})
    [message] = response.json()["response"]["message"]
    assert message.startswith("webhook.events[0] is not one of enum values: APPLICATION_STARTUP,")
    assert message.endswith(",STATUS_INSTANCE")


def test_set_runs_the_guards_first(evo: Evolution) -> None:
    assert evo.call("POST", "/webhook/set/nope", key=None, json={}).status_code == 404
    assert evo.call("POST", "/webhook/set/zapq", key=None, json={}).status_code == 401
    assert evo.call("GET", "/webhook/find/zapq", key="wrong").status_code == 401


def test_send_posts_send_message_and_receipts_in_order(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(ack_delays_ms=NO_DELAYS, ack_probabilities=ALL_ACKS)
    set_webhook(evo, receiver.url)
    sent = evo.send(BODY).json()
    posts = receiver.wait_count(4)
    assert [(p["event"], p["data"].get("status")) for p in posts] == [
        ("send.message", "PENDING"),
        ("messages.update", "SERVER_ACK"),
        ("messages.update", "DELIVERY_ACK"),
        ("messages.update", "READ"),
    ]
    first = posts[0]
    assert set(first) == {
        "event",
        "instance",
        "data",
        "destination",
        "date_time",
        "sender",
        "server_url",
        "apikey",
    }
    assert (first["instance"], first["data"], first["destination"]) == ("zapq", sent, receiver.url)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["date_time"])
    assert first["sender"].endswith("@s.whatsapp.net")
    assert first["server_url"].startswith("http://127.0.0.1:")
    assert first["apikey"] is None, "AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES is off"
    assert posts[1]["data"] == {
        "keyId": sent["key"]["id"],
        "remoteJid": sent["key"]["remoteJid"],
        "fromMe": True,
        "status": "SERVER_ACK",
        "instanceId": sent["instanceId"],
    }


def test_headers_and_the_jwt(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    secret = "a-jwt-secret-of-32-bytes-or-more!"  # PyJWT warns on shorter HMAC keys
    headers = {"x-token": "s3cret", "jwt_key": secret}
    set_webhook(evo, receiver.url, headers=headers, events=["SEND_MESSAGE"])
    evo.send(BODY)
    receiver.wait_count(1)
    post = receiver.posts[0]
    assert post.headers["x-token"] == "s3cret"
    assert "jwt_key" not in post.headers
    assert post.headers["content-type"] == "application/json"
    scheme, token = post.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["exp"] == claims["iat"] + 600
    assert (claims["app"], claims["action"]) == ("evolution", "webhook")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, secret.upper(), algorithms=["HS256"])


def test_by_events_posts_to_kebab_paths(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(ack_delays_ms=NO_DELAYS, ack_probabilities=ALL_ACKS)
    set_webhook(evo, receiver.url, byEvents=True)
    evo.send(BODY)
    receiver.wait_count(4)
    paths = [post.path for post in receiver.posts]
    assert paths == ["/hooks/send-message"] + ["/hooks/messages-update"] * 3
    assert receiver.events()[0]["destination"] == receiver.url, "destination is the base URL"


def test_only_the_enabled_events_are_posted(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(ack_delays_ms=NO_DELAYS, ack_probabilities=ALL_ACKS)
    set_webhook(evo, receiver.url, events=["MESSAGES_UPDATE"])
    evo.send(BODY)
    evo.send(BODY)
    receiver.wait_count(6)
    assert {post["event"] for post in receiver.events()} == {"messages.update"}


def test_retry_then_success(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(**FAST_RETRIES)
    receiver.script = [500, 503]
    set_webhook(evo, receiver.url, events=["SEND_MESSAGE"])
    key_id = evo.send(BODY).json()["key"]["id"]
    receiver.wait_count(3)
    assert [post.status for post in receiver.posts] == [500, 503, 200]
    assert {post.body["data"]["key"]["id"] for post in receiver.posts} == {key_id}
    log = sim.webhook_deliveries()
    assert [(d["attempt"], d["status"]) for d in log] == [(1, 500), (2, 503), (3, 200)]
    assert {(d["event"], d["url"], d["key_id"]) for d in log} == {
        ("send.message", receiver.url, key_id)
    }
    assert sim.stats()["webhooks"]["delivered"] == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_no_retry_on_a_non_retryable_status(
    sim: SimControl, evo: Evolution, receiver: Receiver, status: int
) -> None:
    sim.configure(**FAST_RETRIES)
    receiver.script = [status]
    set_webhook(evo, receiver.url, events=["SEND_MESSAGE"])
    evo.send(BODY)
    evo.send({**BODY, "text": "second"})
    receiver.wait_count(2)
    # Two posts in flight at once: either may meet the scripted status first. Neither is retried.
    log = sim.webhook_deliveries()
    assert sorted((d["attempt"], d["status"]) for d in log) == sorted([(1, status), (1, 200)])
    assert sim.stats()["webhooks"]["failed"] == 1


def test_attempts_are_bounded(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(**FAST_RETRIES, webhook_retry_max_attempts=3)
    receiver.script = [500] * 3
    set_webhook(evo, receiver.url, events=["SEND_MESSAGE"])
    first = evo.send(BODY).json()["key"]["id"]
    wait_until(lambda: sim.stats()["webhooks"]["failed"] == 1, "the first event to give up")
    second = evo.send({**BODY, "text": "second"}).json()["key"]["id"]
    wait_until(lambda: sim.stats()["webhooks"]["delivered"] == 1, "the second event")
    log = [(d["key_id"], d["attempt"], d["status"]) for d in sim.webhook_deliveries()]
    assert log == [(first, 1, 500), (first, 2, 500), (first, 3, 500), (second, 1, 200)]


def test_a_receiver_that_is_down_never_blocks_a_send(sim: SimControl, evo: Evolution) -> None:
    sim.configure(webhook_retry_max_attempts=1, ack_delays_ms=NO_DELAYS, ack_probabilities=ALL_ACKS)
    set_webhook(evo, "http://127.0.0.1:9/hooks")  # the discard port: nothing listens
    assert [evo.send(BODY).status_code for _ in range(5)] == [201] * 5
    wait_until(lambda: sim.stats()["webhooks"]["failed"] == 20, "4 events x 5 sends to fail")
    assert {d["status"] for d in sim.webhook_deliveries()} == {None}


def test_a_non_http_url_is_never_posted(sim: SimControl, evo: Evolution) -> None:
    set_webhook(evo, "svc.example/hooks")
    assert evo.send(BODY).status_code == 201
    assert sim.stats()["webhooks"]["queued"] == 0


def _receipt_counts(
    sim: SimControl, evo: Evolution, receiver: Receiver, sends: int
) -> Counter[str]:
    sim.reset(config=False)
    receiver.posts.clear()
    set_webhook(evo, receiver.url, events=["MESSAGES_UPDATE"])
    for index in range(sends):
        assert evo.send({**BODY, "text": f"m{index}"}).status_code == 201
    assert wait_idle(sim)["delivered"] == len(receiver.events())
    return Counter(post["data"]["status"] for post in receiver.events())


def test_receipt_probabilities_with_a_seed(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    probabilities = {"SERVER_ACK": 1, "DELIVERY_ACK": 1, "READ": 0.5}
    sim.configure(seed=11, ack_delays_ms=NO_DELAYS, ack_probabilities=probabilities)
    counts = _receipt_counts(sim, evo, receiver, 60)
    assert (counts["SERVER_ACK"], counts["DELIVERY_ACK"]) == (60, 60)
    assert 15 <= counts["READ"] <= 45
    assert _receipt_counts(sim, evo, receiver, 60) == counts, "same seed, same receipts"


def test_receipts_keep_their_order_per_message(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(ack_delays_ms={"SERVER_ACK": 1, "DELIVERY_ACK": 1, "READ": 1})
    sim.configure(ack_probabilities=ALL_ACKS)
    set_webhook(evo, receiver.url)
    for index in range(10):
        evo.send({**BODY, "text": f"m{index}"})
    receiver.wait_count(40)
    by_key: dict[str, list[str]] = {}
    for post in receiver.events():
        data = post["data"]
        key_id = data["keyId"] if post["event"] == "messages.update" else data["key"]["id"]
        by_key.setdefault(key_id, []).append(data["status"])
    assert len(by_key) == 10
    order = ["PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ"]
    assert all(statuses == order for statuses in by_key.values())


def test_shuffle_and_duplicates(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(seed=5, ack_delays_ms=NO_DELAYS, ack_probabilities=ALL_ACKS)
    sim.configure(webhook_shuffle=True, webhook_duplicate_rate=0.5)
    set_webhook(evo, receiver.url)
    for index in range(20):
        evo.send({**BODY, "text": f"m{index}"})
    assert wait_idle(sim)["delivered"] == len(receiver.events())
    posts = receiver.events()
    assert 80 < len(posts) < 160, "about half of the 80 events were posted twice"
    firsts: Counter[str] = Counter()
    seen: set[str] = set()
    for post in posts:
        data = post["data"]
        key_id = data.get("keyId") or data["key"]["id"]
        if key_id not in seen:
            seen.add(key_id)
            firsts[post["event"]] += 1
    assert firsts["messages.update"] > 0, "some messages' receipts came before send.message"


def test_events_go_per_instance(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(instances={"a": None, "b": None})
    set_webhook(evo, receiver.url, instance="a", events=["SEND_MESSAGE"])
    evo.send(BODY, instance="b")
    evo.send(BODY, instance="a")
    receiver.wait_count(1)
    assert [post["instance"] for post in receiver.events()] == ["a"]
    assert sim.stats()["webhooks"]["queued"] == 1


def test_expose_apikey(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(instances={"zapq": "tok-a"}, expose_in_fetch_instances=True)
    set_webhook(evo, receiver.url, events=["SEND_MESSAGE"])
    evo.send(BODY)
    assert receiver.wait_count(1)[0]["apikey"] == "tok-a"


def test_reset_clears_deliveries_and_webhooks(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    set_webhook(evo, receiver.url, events=["SEND_MESSAGE"])
    evo.send(BODY)
    receiver.wait_count(1)
    assert len(sim.webhook_deliveries()) == 1
    sim.reset(config=False)
    assert sim.webhook_deliveries() == []
    assert evo.call("GET", "/webhook/find/zapq").json() is None


def test_a_reset_drops_receipts_still_waiting(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(ack_delays_ms={"SERVER_ACK": 300, "DELIVERY_ACK": 0, "READ": 0})
    set_webhook(evo, receiver.url, events=["MESSAGES_UPDATE"])
    evo.send(BODY)
    sim.reset(config=False)
    sim.configure(
        ack_delays_ms={"SERVER_ACK": 600, "DELIVERY_ACK": 0, "READ": 0},
        ack_probabilities={"SERVER_ACK": 1, "DELIVERY_ACK": 0, "READ": 0},
    )
    set_webhook(evo, receiver.url, events=["MESSAGES_UPDATE"])
    key_id = evo.send({**BODY, "text": "after"}).json()["key"]["id"]
    # The old SERVER_ACK was due 300 ms before this one: had it survived the reset, it would
    # have been posted first.
    receiver.wait_count(1)
    assert [post["data"]["keyId"] for post in receiver.events()] == [key_id]
