"""The chart's `senders` value: rendered into the Secret as the JSON zapq reads (ZAPQ_SENDERS),
checked by the schema and the templates, and the worker sizing guidance in NOTES."""

from __future__ import annotations

import math
import re
from typing import Any

import helm_python
import pytest

from service.settings import SenderSpec, Settings
from tests.chart.render import WORKLOADS, by_kind, ci_values, objects, render_templates, rendered
from tests.chart.test_schema import validate

SENDERS = ci_values("bundled-redis")["senders"]


def senders_json(objs: list[dict[str, Any]]) -> str:
    return str(by_kind(objs, "Secret")["zapq"]["stringData"]["senders"])


def test_senders_are_the_json_zapq_reads_in_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPQ_SENDERS", senders_json(rendered("bundled-redis")))
    assert Settings().senders == [
        SenderSpec(name="billing-1", rate_per_second=20),
        SenderSpec(
            name="billing-2",
            instance="wa-billing-2",
            base_url="https://evolution-2.example.com",
            api_key="ci-sender-key",
            daily_limit=1000,
            time_zone="America/Manaus",
        ),
    ]


def test_without_senders_the_key_holds_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty list: zapq then runs the one sender of ZAPQ_EVOLUTION__*."""
    monkeypatch.setenv("ZAPQ_SENDERS", senders_json(rendered("defaults")))
    assert Settings().senders == []


def senders_refs(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload name -> the secretKeyRef of its ZAPQ_SENDERS (zapq's own containers)."""
    found = {}
    for obj in objs:
        if obj["kind"] not in WORKLOADS or obj["metadata"]["name"].endswith("-redis"):
            continue
        spec = obj["spec"].get("jobTemplate", obj)["spec"]["template"]["spec"]
        for env in spec["containers"][0]["env"]:
            if env["name"] == "ZAPQ_SENDERS":
                found[obj["metadata"]["name"]] = env["valueFrom"]["secretKeyRef"]
    return found


def test_every_zapq_pod_reads_the_key_and_no_config_map_holds_it() -> None:
    objs = rendered("bundled-redis")
    refs = senders_refs(objs)
    # Only the workers seed the pool (the API and the scheduler read it from Redis).
    assert set(refs) == {"zapq-worker"}
    # Optional: an existing Secret without the key still starts (one default sender).
    assert all(ref == {"name": "zapq", "key": "senders", "optional": True} for ref in refs.values())
    for config in by_kind(objs, "ConfigMap").values():
        assert "ci-sender-key" not in str(config), config["metadata"]["name"]


def test_an_existing_secret_may_hold_the_senders() -> None:
    refs = senders_refs(objects(ci_values("external-redis")))
    assert set(refs) == {"zapq-worker"}
    assert all(
        ref == {"name": "zapq-secrets", "key": "senders", "optional": True} for ref in refs.values()
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"secrets": {"existingSecret": "mine"}, "senders": [{"name": "a"}]},
            "put the ZAPQ_SENDERS JSON under its `senders` key",
        ),
        ({"senders": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}, "the name a is used twice"),
    ],
)
def test_senders_the_chart_cannot_render_fail_clearly(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render_templates(values)


@pytest.mark.parametrize(
    ("sender", "names"),
    [
        ({"ratePerSecond": 5}, "at '/senders/0': missing property 'name'"),
        ({"name": "a b"}, "/senders/0/name"),
        ({"name": "a", "rate": 5}, "additional properties 'rate' not allowed"),
        ({"name": "a", "ratePerSecond": 0}, "/senders/0/ratePerSecond"),
        ({"name": "a", "burst": 0}, "/senders/0/burst"),
        ({"name": "a", "dailyLimit": 0}, "/senders/0/dailyLimit"),
        ({"name": "a", "baseUrl": "evolution:8080"}, "/senders/0/baseUrl"),
        ({"name": "a", "paused": "yes"}, "/senders/0/paused"),
    ],
)
def test_the_schema_rejects_bad_senders(sender: dict[str, Any], names: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as caught:
        validate({"senders": [sender]})
    assert names in str(caught.value)


def notes(values: dict[str, Any]) -> str:
    return render_templates(values)["zapq/templates/NOTES.txt"]


@pytest.mark.parametrize(
    ("rates", "worker_rate"), [([50], 50), ([20, 50, 50, 7.5], 50), ([80, 80, 80], 25)]
)
def test_notes_give_the_pods_the_pool_can_use(rates: list[float], worker_rate: float) -> None:
    senders = [{"name": f"s{i}", "ratePerSecond": rate} for i, rate in enumerate(rates)]
    values = {"senders": senders, "worker": {"ratePerSecond": worker_rate}}
    needed = math.ceil(sum(rates) / worker_rate)
    text = notes(values)
    assert f"-> {needed} (" in text
    small = {**values, "worker": {**values["worker"], "autoscaling": {"maxReplicas": needed + 1}}}
    assert "NOTE: up to" not in notes(small)
    large = {**values, "worker": {**values["worker"], "autoscaling": {"maxReplicas": needed + 2}}}
    assert f"past {needed + 1} they only wait for the senders' rate limits" in notes(large)


def test_notes_count_the_default_sender_without_a_senders_list() -> None:
    text = notes({})
    assert "1 sender(s) at 50 msg/s in all (the default sender" in text
    assert "up to 20 worker pods may run: past 2" in text
