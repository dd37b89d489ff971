"""End to end: the dashboards' and alerts' PromQL against a real Prometheus scraping a real stack.

Redis, the Evolution simulator, `zapq api` and two `zapq worker` processes run on loopback, and
Debian's `prometheus` scrapes them every second. A few hundred messages go through one sender, with
5xx, closed sockets (rerouted), numbers not on WhatsApp, poison messages retried into the dead
letters, an expiry while the sender is paused, a cancel, a duplicate and a refused item; then every
expression is evaluated through Prometheus's HTTP API.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from redis import Redis

from service.queue import keys
from service.queue.keys import PRIORITIES
from service.scheduler.rules import WEEKDAYS
from tests.chart.render import by_kind, objects
from tests.conftest import require_tool
from tests.observability.catalogue import (
    CHART,
    Expression,
    alert_expressions,
    dashboard_expressions,
    dashboards,
)
from tests.observability.stack import (
    API_KEY,
    NAMESPACE,
    RELEASE,
    SENDER,
    Stack,
    query,
    running_stack,
)
from tests.observability.test_dashboards import substitute

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Series that exist only in a cluster (kube-state-metrics, cAdvisor): syntax only.
CLUSTER_ONLY = {
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_horizontalpodautoscaler_spec_target_metric",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
}
# zapq series this test does not produce: a redelivery needs a worker killed mid-send and its lock
# to expire (covered by tests/worker/test_process.py); the scheduler's per-rule figures exist only
# in a Pushgateway, which this stack does not run (syntax only).
NOT_PRODUCED = {
    "zapq_messages_redelivered_total",
    "zapq_schedule_run_messages",
    "zapq_schedule_run_charges",
}
INVALID = [f"+55 11 9{7000_0000 + i}" for i in range(10)]
MAIN_MESSAGES = 300
# The window of the rate check: long, so Prometheus's extrapolation to the window edges (at most
# one scrape interval each side: 2 s of the average rate) stays under 4 % of it.
RATE_WINDOW_SECONDS = 50


def numbers(count: int, start: int) -> list[str]:
    return [f"+55 11 9{8000_0000 + start + i}" for i in range(count)]


def post_batch(stack: Stack, items: list[dict[str, Any]], **headers: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.api}/v1/messages/batch", json={"messages": items}, headers={**AUTH, **headers}
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def queue_idle(stack: Stack) -> bool:
    body = httpx.get(f"{stack.api}/v1/queue", headers=AUTH).json()
    busy = sum(body["ready"].values()) + body["in_flight"] + body["retrying"]
    return busy == 0


def wait_for(check: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.1)


def sent_series(stack: Stack) -> set[tuple[str, str]]:
    """(pod, priority) of every zapq_messages_sent_total series on the workers' /metrics."""
    found = set()
    for pod, url in stack.metrics.items():
        for line in httpx.get(url).text.splitlines():
            if line.startswith("zapq_messages_sent_total{"):
                found.add((pod, line.split('priority="')[1].split('"')[0]))
    return found


def warm_up(stack: Stack) -> None:
    """Until every worker has sent every priority: a counter series born inside the rate window
    would hide its first increments from rate(). A worker takes up to max_jobs at once, so rounds
    of three messages (one per priority), until each worker has taken a round."""
    wanted = {(pod, p) for pod in stack.metrics if "-worker-" in pod for p in PRIORITIES}
    for round_ in range(60):
        post_batch(
            stack,
            [
                {"to": n, "text": "warm-up", "priority": p}
                for n, p in zip(numbers(3, 5000 + 3 * round_), PRIORITIES, strict=True)
            ],
        )
        wait_for(lambda: queue_idle(stack))
        if sent_series(stack) >= wanted:
            return
    raise AssertionError(f"warm-up: workers never sent {wanted - sent_series(stack)}")


def drive(stack: Stack) -> dict[str, Any]:
    """Warm-up, the main load with failures, then dead letters and an expiry. Returns counts."""
    stack.configure_sim(latency_ms=20, seed=7)
    warm_up(stack)
    time.sleep(2.5)
    started, before = time.time(), stack.sim_stats()
    stack.configure_sim(fail_5xx_rate=0.15, connection_closed_rate=0.05, invalid_numbers=INVALID)
    main = [
        {"to": n, "text": f"fatura {i}", "priority": PRIORITIES[i % 3]}
        for i, n in enumerate(numbers(MAIN_MESSAGES - len(INVALID), 100) + INVALID)
    ]
    for chunk in range(0, len(main), 100):
        post_batch(stack, main[chunk : chunk + 100])
    _extras(stack)
    wait_for(lambda: queue_idle(stack), timeout=60, what="main load finished")
    _dead_letters(stack)
    _expiry(stack)
    return {"started": started, "before": before}


def _extras(stack: Stack) -> None:
    """A duplicate, a refused item, a cancel and one message left scheduled."""
    item = {"to": numbers(1, 900)[0], "text": "once"}
    post_batch(stack, [item], **{"Idempotency-Key": "e2e-dup"})
    post_batch(stack, [item], **{"Idempotency-Key": "e2e-dup"})
    post_batch(stack, [{"to": "123", "text": "refused"}])
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = post_batch(
        stack, [{"to": n, "text": "later", "send_at": later} for n in numbers(2, 910)]
    )
    message_id = scheduled["results"][0]["id"]
    response = httpx.delete(f"{stack.api}/v1/messages/{message_id}", headers=AUTH)
    assert response.status_code == 200, response.text


def history(stack: Stack, message_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.api}/v1/messages/{message_id}", headers=AUTH)
    return list(response.json()["history"])


def dead_letters(stack: Stack) -> int:
    return int(httpx.get(f"{stack.api}/v1/queue", headers=AUTH).json()["dead_letters"])


def _dead_letters(stack: Stack) -> None:
    """Poison messages: every upload of their media fails (HTTP 500, a sender fault). The first
    failures are rerouted without counting an attempt, as a sender outage would be; once the
    sender has sent other messages since, the failure is the message's own: attempts count, two
    retries, then the dead letters."""
    stack.configure_sim(fail_5xx_rate=0.0, connection_closed_rate=0.0, media_upload_fail_rate=1.0)
    before = dead_letters(stack)
    media = {"mediatype": "document", "media": "https://files.example.com/fatura.pdf"}
    doomed = [
        {"to": n, "kind": "media", "media": media, "priority": p}
        for n, p in zip(numbers(3, 950), PRIORITIES, strict=True)
    ]
    ids = [item["id"] for item in post_batch(stack, doomed)["results"]]

    def rerouted() -> bool:
        return all(any(h.get("rerouted_from") for h in history(stack, i)) for i in ids)

    wait_for(rerouted, timeout=30, what="poison messages rerouted")
    # Text messages the sender sends while the poison ones come back to it.
    for round_ in range(300):
        post_batch(
            stack, [{"to": numbers(1, 1000 + round_)[0], "text": "ok", "priority": "urgent"}]
        )
        if dead_letters(stack) >= before + len(ids):
            break
        time.sleep(0.1)
    wait_for(lambda: queue_idle(stack), timeout=30, what="dead letters")
    assert dead_letters(stack) == before + len(ids)
    stack.configure_sim(media_upload_fail_rate=0.0)


def _expiry(stack: Stack) -> None:
    """A message that expires while its only sender is paused: not sent, expired when taken."""
    url = f"{stack.api}/v1/senders/{SENDER}"
    httpx.post(f"{url}/pause", headers=AUTH).raise_for_status()
    soon = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
    [result] = post_batch(stack, [{"to": numbers(1, 960)[0], "text": "late", "expires_at": soon}])[
        "results"
    ]
    time.sleep(1.0)
    httpx.post(f"{url}/resume", headers=AUTH).raise_for_status()
    wait_for(lambda: history(stack, result["id"])[-1]["status"] == "expired", what="expired")


SCHEDULE_RULES = {
    "rules": [
        {
            "name": "e2e_due",
            "offset_days": 0,
            "statuses": ["open"],
            "priority": "low",
            "template": "Olá, {first_name}! Sua fatura de {amount} vence em {due_date}. {payment}",
        }
    ],
    "calendar": {"allowed_hours": dict.fromkeys(WEEKDAYS, "08:00-20:00"), "holidays": []},
}
SCHEDULED_CHARGES = 5


def run_scheduler(stack: Stack, tmp: Path) -> None:
    """A real `zapq schedule` run (file source) for a day ahead: its messages wait scheduled, and
    its last run lands in Redis for the api and workers to export."""
    day = date.today() + timedelta(days=3)
    charges = [
        {
            "id": f"c{i}",
            "customer_name": "Ana Souza",
            "phone": phone,
            "amount": 99.9,
            "due_date": day.isoformat(),
            "status": "open",
            "payment_link": "https://pay.example/x",
        }
        for i, phone in enumerate(numbers(SCHEDULED_CHARGES, 970))
    ]
    source = tmp / "charges.jsonl"
    source.write_text("".join(json.dumps(charge) + "\n" for charge in charges))
    rules = tmp / "rules.yaml"
    rules.write_text(yaml.safe_dump(SCHEDULE_RULES, allow_unicode=True))
    args = ["schedule", "--rules", str(rules), "--source", "file", "--source-url", str(source)]
    result = subprocess.run(
        [sys.executable, "-m", "service", *args, "--date", day.isoformat()],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_tool(shutil.which("prometheus") is not None, "prometheus (Debian package)")
    tmp = tmp_path_factory.mktemp("e2e")
    with running_stack(tmp, rule_files=[]) as stack:
        run_scheduler(stack, tmp)
        counts = drive(stack)
        # The rate check's window starts after the warm-up; let it run long enough.
        time.sleep(max(0.0, counts["started"] + RATE_WINDOW_SECONDS - time.time()))
        time.sleep(2.5)  # two more scrapes of the final state
        counts.update(at=time.time(), after=stack.sim_stats(), stack=stack, tmp=tmp)
        yield counts


# The traffic ends well inside the last minute before the evaluation time.
VARIABLES = {
    "$__rate_interval": "1m",
    "$namespace": NAMESPACE,
    "$release": RELEASE,
    "$sender": SENDER,
}


def evaluate(observed: dict[str, Any], expression: Expression) -> list[dict[str, Any]]:
    expr = substitute(expression.expr, VARIABLES)
    return query(observed["stack"].prometheus, expr, observed["at"])


def has_data(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(series["value"][1])) for series in result)


def all_expressions() -> list[Expression]:
    return [*dashboard_expressions(), *alert_expressions()]


def test_every_expression_parses_and_zapq_panels_return_data(observed: dict[str, Any]) -> None:
    empty, panels_with_data = [], set()
    for expression in all_expressions():
        result = evaluate(observed, expression)  # raises on a parse or evaluation error
        if expression.series & (CLUSTER_ONLY | NOT_PRODUCED) or expression.where[0] == "alert":
            continue
        if has_data(result):
            panels_with_data.add(expression.where)
        else:
            empty.append((expression.where, expression.expr))
    assert empty == [], "zapq expressions without data"
    panels = {
        e.where for e in dashboard_expressions() if not e.series & (CLUSTER_ONLY | NOT_PRODUCED)
    }
    assert panels <= panels_with_data


def scalar(observed: dict[str, Any], expr: str) -> float:
    result = query(observed["stack"].prometheus, substitute(expr, VARIABLES), observed["at"])
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


SEL = f'namespace="{NAMESPACE}", pod=~"{RELEASE}-.+"'


def test_sent_rate_times_window_matches_the_simulator(observed: dict[str, Any]) -> None:
    # From just before the load started (the counters were flat then) to the evaluation time.
    window = math.ceil(observed["at"] - observed["started"]) + 1
    rate = scalar(observed, f"sum(rate(zapq_messages_sent_total{{{SEL}}}[{window}s]))")
    counted = observed["after"]["accepted"] - observed["before"]["accepted"]
    assert counted > MAIN_MESSAGES * 0.9  # a few may have been dead-lettered
    assert rate * window == pytest.approx(counted, rel=0.05), f"{rate * window / counted:.3f}"


def test_counters_agree_with_the_simulator_and_redis(observed: dict[str, Any]) -> None:
    sim = observed["after"]
    assert scalar(observed, f"sum(zapq_messages_sent_total{{{SEL}}})") == sim["accepted"]
    assert scalar(observed, f"sum(zapq_evolution_requests_total{{{SEL}}})") == sim["received"]
    server_errors = f'sum(zapq_evolution_requests_total{{{SEL}, outcome="server_error"}})'
    assert scalar(observed, server_errors) == sim["by_status"]["500"]
    invalid = f'sum(zapq_messages_failed_total{{{SEL}, error_class="invalid_recipient"}})'
    assert scalar(observed, invalid) == len(INVALID)
    client = Redis.from_url(observed["stack"].redis_url)
    dead = client.zcard(keys.DEFAULT.dead)
    assert dead >= 3
    assert scalar(observed, f"max(zapq_queue_dead_letters{{{SEL}}})") == dead
    assert scalar(observed, f"sum(zapq_messages_dead_total{{{SEL}}})") == dead
    scheduled = client.zcard(keys.DEFAULT.scheduled)
    client.close()
    assert scheduled == 1 + SCHEDULED_CHARGES  # one API message left, the scheduler's run
    assert scalar(observed, f"max(zapq_queue_scheduled_messages{{{SEL}}})") == scheduled
    assert scalar(observed, f"max(zapq_schedule_last_run_failed{{{SEL}}})") == 0


def test_the_variables_find_the_namespace_the_release_and_the_sender(
    observed: dict[str, Any],
) -> None:
    """label_values(<series>, <label>) as Grafana runs it: the label values API, then the regex,
    each variable's query with the values of the ones before it."""
    prometheus = observed["stack"].prometheus
    for board in dashboards().values():
        found: dict[str, str] = {}
        for variable in board["templating"]["list"][1:]:
            series, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]).groups()
            series = substitute(series, {f"${name}": value for name, value in found.items()})
            values = httpx.get(
                f"{prometheus}/api/v1/label/{label}/values", params={"match[]": series}
            ).json()["data"]
            if variable.get("regex"):
                pattern = re.compile(variable["regex"].strip("/"))
                values = sorted({m.group(1) for v in values if (m := pattern.match(v))})
            found[variable["name"]] = "|".join(values)
        expected = {"namespace": NAMESPACE, "release": RELEASE}
        if "sender" in found:
            expected["sender"] = SENDER
        assert found == expected


def test_prometheus_scraped_every_target(observed: dict[str, Any]) -> None:
    targets = httpx.get(f"{observed['stack'].prometheus}/api/v1/targets").json()["data"]
    health = {t["labels"]["pod"]: t["health"] for t in targets["activeTargets"]}
    assert set(health) == set(observed["stack"].metrics)
    assert set(health.values()) == {"up"}


def autoscaling_queries() -> dict[str, str]:
    """The backlog query of prometheus-adapter's rule (the worker HPA) and of the KEDA trigger,
    as a cluster would run them for this stack's namespace and release."""
    adapter = yaml.safe_load((CHART / "extras" / "prometheus-adapter-values.yaml").read_text())
    [rule] = adapter["rules"]["external"]
    series = rule["seriesQuery"].split("{")[0]
    adapter_expr = rule["metricsQuery"].replace("<<.Series>>", series)
    adapter_expr = adapter_expr.replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}"')
    values = {"worker": {"autoscaling": {"mode": "keda"}}}
    objs = objects(values, name=RELEASE, namespace=NAMESPACE)
    triggers = by_kind(objs, "ScaledObject")[f"{RELEASE}-worker"]["spec"]["triggers"]
    keda = next(t for t in triggers if t["type"] == "prometheus")
    return {"prometheus-adapter": adapter_expr, "keda": keda["metadata"]["query"]}


# The release's ready backlog, as the dashboards read it: what both autoscalers must see.
BACKLOG = f"sum(max by (priority) (zapq_queue_ready_messages{{{SEL}}}))"
BACKLOG_MESSAGES = 60


@pytest.fixture(scope="module")
def backlog(observed: dict[str, Any]) -> float:
    """A backlog that lasts seconds, not a scrape's luck: Evolution answers in 2 s, so 2 workers x
    10 jobs run and the rest wait ready. Returns a time when Prometheus had it, once drained."""
    stack = observed["stack"]
    stack.configure_sim(latency_ms=2000)
    post_batch(stack, [{"to": n, "text": "backlog"} for n in numbers(BACKLOG_MESSAGES, 3000)])
    seen: list[float] = []

    def visible() -> bool:
        now = time.time()
        result = query(stack.prometheus, BACKLOG, now)
        if result and float(result[0]["value"][1]) > 0:
            seen.append(now)
        return bool(seen)

    wait_for(visible, timeout=30, what="the backlog in Prometheus")
    stack.configure_sim(latency_ms=20)
    wait_for(lambda: queue_idle(stack), timeout=60, what="the backlog drained")
    return seen[0]


@pytest.mark.parametrize("autoscaler", ["prometheus-adapter", "keda"])
def test_the_autoscaling_signal_is_the_ready_backlog(
    observed: dict[str, Any], backlog: float, autoscaler: str
) -> None:
    expr = autoscaling_queries()[autoscaler]
    stack = observed["stack"]
    ready = httpx.get(f"{stack.api}/v1/queue", headers=AUTH).json()["ready"]
    assert scalar(observed, expr) == sum(ready.values())
    during = {**observed, "at": backlog}
    assert scalar(during, expr) == scalar(during, BACKLOG) > 0
