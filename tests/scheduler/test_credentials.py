"""The billing token goes only to the configured scheme, host and port (issue #15): two billing
servers on loopback, the second one ("foreign") recording the headers it is sent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from service.scheduler.errors import SourceUnavailable
from service.scheduler.sources.base import Source
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.test_sources import charges, collect, source

TOKEN = "billing-token-4f1e"
LINKS = {"pagination": "next_url", "items_path": "items", "next_url_path": "links.next",
         "page_size_param": "limit", "page_size": 2}  # fmt: skip
LIST = {"pagination": "none", "items_path": "", "page_size_param": ""}
# The token in the default header, and in a custom one (which httpx's redirects used to keep).
AUTH = [("Authorization", "Bearer", f"Bearer {TOKEN}"), ("X-Api-Key", "", TOKEN)]


def http(
    url: str, options: dict[str, Any], header: str = "Authorization", scheme: str = "Bearer"
) -> Source:
    http_options = {**options, "auth_header": header, "auth_scheme": scheme}
    return source("http", url, {"http": http_options}, source_token=SecretStr(TOKEN))


def sent(api: BillingApi, header: str) -> list[str | None]:
    return [headers.get(header.lower()) for headers in api.headers]


@pytest.mark.parametrize(("header", "scheme", "value"), AUTH)
async def test_a_redirect_to_another_origin_is_followed_without_the_token(
    billing: BillingApi, foreign: BillingApi, header: str, scheme: str, value: str
) -> None:
    foreign.reset(charges(3))
    url = f"{billing.url}/redirect?to={foreign.url}/list/charges"
    records, _ = await collect(http(url, LIST, header, scheme))
    assert len(records) == 3
    assert sent(billing, header) == [value]
    assert sent(foreign, header) == [None]
    assert all(TOKEN not in str(headers) for headers in foreign.headers)


async def test_a_redirect_on_the_same_origin_keeps_the_token(billing: BillingApi) -> None:
    billing.reset(charges(3), token=TOKEN)
    records, _ = await collect(http(f"{billing.url}/redirect?to=/list/charges", LIST))
    assert len(records) == 3
    assert sent(billing, "Authorization") == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize(("header", "scheme", "value"), AUTH)
async def test_a_next_link_to_another_origin_is_refused(
    billing: BillingApi, foreign: BillingApi, header: str, scheme: str, value: str
) -> None:
    billing.reset(charges(5))
    foreign.reset(charges(5))
    billing.link_base = foreign.url
    with pytest.raises(SourceUnavailable, match="next-page link points to") as refused:
        await collect(http(f"{billing.url}/link/charges", LINKS, header, scheme))
    assert f"not to {billing.url}: refused" in str(refused.value)
    assert sent(billing, header) == [value]
    assert foreign.requests == []


async def test_a_next_link_on_the_same_origin_is_followed(billing: BillingApi) -> None:
    billing.reset(charges(5), token=TOKEN)
    billing.link_base = billing.url  # absolute links to itself
    records, batches = await collect(http(f"{billing.url}/link/charges", LINKS))
    assert (len(records), batches) == (5, 3)


async def test_https_to_http_redirect_is_refused(
    tls_billing: BillingApi, foreign: BillingApi
) -> None:
    foreign.reset(charges(3))
    url = f"{tls_billing.url}/redirect?to={foreign.url}/list/charges"
    with pytest.raises(SourceUnavailable, match="https -> http") as refused:
        await collect(http(url, LIST))
    assert f"redirects to {foreign.url}/list/charges: refused" in str(refused.value)
    assert len(tls_billing.requests) == 1  # not retried: another attempt is refused too
    assert foreign.requests == []


async def test_https_to_http_next_link_is_refused(
    tls_billing: BillingApi, foreign: BillingApi
) -> None:
    tls_billing.reset(charges(5), token=TOKEN)
    tls_billing.link_base = tls_billing.url.replace("https://", "http://")
    with pytest.raises(SourceUnavailable, match="https -> http"):
        await collect(http(f"{tls_billing.url}/link/charges", LINKS))
    assert len(tls_billing.requests) == 1


async def test_an_http_to_https_upgrade_elsewhere_drops_the_token(
    billing: BillingApi, tls_billing: BillingApi
) -> None:
    tls_billing.reset(charges(2))
    url = f"{billing.url}/redirect?to={tls_billing.url}/list/charges"
    records, _ = await collect(http(url, LIST))
    assert len(records) == 2
    assert sent(tls_billing, "Authorization") == [None]


async def test_a_file_url_redirected_elsewhere_gets_no_token(
    billing: BillingApi, foreign: BillingApi
) -> None:
    foreign.reset(charges(4))
    url = f"{billing.url}/redirect?to={foreign.url}/files/charges.jsonl"
    src = source("file", url, {"file": {"format": "jsonl"}}, source_token=SecretStr(TOKEN))
    records, _ = await collect(src)
    assert len(records) == 4
    assert sent(billing, "Authorization") == [f"Bearer {TOKEN}"]
    assert sent(foreign, "Authorization") == [None]


async def test_a_redirect_loop_ends(billing: BillingApi) -> None:
    with pytest.raises(SourceUnavailable, match="more than 5 redirects"):
        await collect(http(f"{billing.url}/redirect", LIST))  # to itself, forever
