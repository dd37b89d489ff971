"""GETs whose credentials go only to the configured origin: its scheme, host and port.

The billing token (``Authorization: Bearer ...`` or the rules' custom ``auth_header``) is sent on a
request only when that request's URL has the scheme, host and port of ZAPQ_SCHEDULE__SOURCE_URL.
httpx's own redirect handling drops only ``Authorization`` across origins (a custom header such as
``X-Api-Key`` went along) and follows https -> http; so redirects are followed here, hop by hop:

- a redirect to another origin is followed without the credentials (a download handed over to
  object storage is the usual case); one to the same origin keeps them;
- https -> http is refused, with or without credentials: the charges would travel in clear, and
  anyone on the path could alter them; so is a scheme other than http(s);
- a ``next`` link (HttpSource) must stay on the configured origin: see check_link.

httpx errors are the caller's to turn into Retryable; a refusal here is SourceUnavailable (another
attempt would be refused too).
"""

from __future__ import annotations

from types import TracebackType

import httpx

from service.scheduler.errors import SourceUnavailable
from service.scheduler.sources.base import safe_url

# A billing API or file host redirects once or twice (a moved path, a hand-over to object
# storage); more than this is a loop or a misconfiguration.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin(url: httpx.URL) -> Origin:
    """(scheme, host, port) with the scheme's default port filled in: https://a == https://a:443."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0)


def describe(where: Origin) -> str:
    scheme, host, port = where
    return f"{scheme}://{host}:{port}"


class OriginClient:
    """An httpx client that follows redirects itself, sending ``credentials`` (headers) only to
    the origin of ``url``."""

    def __init__(
        self,
        url: str,
        credentials: dict[str, str],
        timeout_seconds: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.origin = origin(httpx.URL(url))
        self.credentials = credentials
        # follow_redirects=False: each hop is checked in get(); no credentials on the client.
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, headers=headers, follow_redirects=False
        )

    async def __aenter__(self) -> OriginClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def check_link(self, url: httpx.URL) -> None:
        """A link the source itself handed us (a page's ``next``) must stay on the configured
        origin: the pages of one API come from that API, so a link elsewhere is a proxy that
        rewrites hosts or schemes, or a hostile answer. Refused, with the two origins named."""
        if self.origin[0] == "https" and url.scheme == "http":
            raise SourceUnavailable(_downgrade("the next-page link", url))
        if origin(url) != self.origin:
            raise SourceUnavailable(
                f"the next-page link points to {describe(origin(url))}, not to "
                f"{describe(self.origin)}: refused (the token goes only to the configured origin; "
                "fix the API's links or ZAPQ_SCHEDULE__SOURCE_URL)"
            )

    async def get(self, url: httpx.URL, *, stream: bool = False) -> httpx.Response:
        """GET ``url``, following up to MAX_REDIRECTS redirects; the caller closes a streamed
        response."""
        for _ in range(MAX_REDIRECTS + 1):
            secret = self.credentials if origin(url) == self.origin else {}
            request = self._client.build_request("GET", url, headers=secret)
            response = await self._client.send(request, stream=stream)
            if not response.has_redirect_location:
                return response
            await response.aclose()
            url = self._redirect(url, response.headers["Location"])
        raise SourceUnavailable(f"{safe_url(str(url))}: more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _redirect(url: httpx.URL, location: str) -> httpx.URL:
        target = url.join(location)
        if target.scheme not in _DEFAULT_PORTS:
            raise SourceUnavailable(
                f"{safe_url(str(url))} redirects to a {target.scheme}: URL: refused"
            )
        if url.scheme == "https" and target.scheme == "http":
            raise SourceUnavailable(_downgrade(f"{safe_url(str(url))} redirects to", target))
        return target


def _downgrade(what: str, target: httpx.URL) -> str:
    return (
        f"{what} {safe_url(str(target))}: refused, https -> http would carry the request and the "
        "charges unencrypted"
    )
