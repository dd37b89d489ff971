"""The few Kubernetes calls the handlers make themselves (kopf makes the rest): read a Secret a
WhatsAppInstance names, and write the operator's QR code Secret.

kopf is not a client library; this is a small httpx client over the credentials kopf logged in
with (service account in a pod, KUBECONFIG elsewhere), refreshed whenever kopf logs in again.
The QR codes of one namespace live in one Secret (``ZAPQ_OPERATOR__QR_SECRET_NAME``) so that RBAC
can grant patch on that name only: a Role cannot name Secrets the operator would invent per
resource. Each resource writes only its own keys with a JSON merge patch, so concurrent handlers
never overwrite each other.
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

import httpx
import kopf
import orjson

from service.evolution.client import USER_AGENT as _ZAPQ
from service.operator.resource import KIND

#: How the API server's audit log (and the RBAC test) tells the operator's own calls from kopf's.
USER_AGENT = _ZAPQ.replace("zapq/", "zapq-operator/")

# The API server answers in milliseconds; 10 s rides out a control-plane hiccup without holding
# a handler (which kopf then retries) for long.
_TIMEOUT_SECONDS = 10.0
_MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class KubeError(Exception):
    """A Kubernetes call failed; ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _verify(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    if info.ca_data:
        data = info.ca_data
        pem = data.decode() if isinstance(data, bytes) else data
        if "BEGIN CERTIFICATE" not in pem:  # kubeconfig's certificate-authority-data
            pem = base64.b64decode(pem).decode()
        return ssl.create_default_context(cadata=pem)
    if info.ca_path:
        return ssl.create_default_context(cafile=str(info.ca_path))
    return True


def _auth(info: kopf.ConnectionInfo) -> dict[str, str]:
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    if info.username and info.password:
        pair = f"{info.username}:{info.password}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return {}


class KubeClient:
    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None

    async def login(self, info: kopf.ConnectionInfo) -> None:
        """Use these credentials from now on (kopf's login handler calls it)."""
        cert = None
        if info.certificate_path and info.private_key_path:
            cert = (str(info.certificate_path), str(info.private_key_path))
        old, self._http = (
            self._http,
            httpx.AsyncClient(
                base_url=info.server.rstrip("/"),
                headers={**_auth(info), "User-Agent": USER_AGENT},
                verify=_verify(info),
                cert=cert,
                timeout=_TIMEOUT_SECONDS,
                trust_env=False,
            ),
        )
        if old is not None:
            await old.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        """One decoded value of a Secret; KubeError (status 404) when the Secret or key is
        missing."""
        secret = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        raw = (secret.get("data") or {}).get(key)
        if raw is None:
            raise KubeError(f"Secret {name} has no key {key}", status=404)
        return base64.b64decode(raw).decode()

    async def put_secret_keys(
        self, namespace: str, name: str, values: dict[str, str | None]
    ) -> None:
        """Set (or, for None, remove) these keys of the operator's Secret, creating it."""
        data = {
            key: None if value is None else base64.b64encode(value.encode()).decode()
            for key, value in values.items()
        }
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
        try:
            await self._call("PATCH", path, {"data": data}, _MERGE_PATCH)
        except KubeError as exc:
            if exc.status != 404:
                raise
            present: dict[str, str] = {
                key: value for key, value in data.items() if value is not None
            }
            if present:
                await self._call(
                    "POST", f"/api/v1/namespaces/{namespace}/secrets", _new_secret(name, present)
                )

    async def _call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        if self._http is None:
            raise KubeError("not logged in to Kubernetes yet")
        content = orjson.dumps(body) if body is not None else None
        if content is not None and headers is None:
            headers = {"Content-Type": "application/json"}
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise KubeError(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise KubeError(f"{method} {path}: HTTP {response.status_code}", response.status_code)
        data = orjson.loads(response.content) if response.content else {}
        return data if isinstance(data, dict) else {}


def _new_secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "zapq-operator",
                "app.kubernetes.io/part-of": "zapq",
            },
            "annotations": {"zapq.io/contents": f"QR and pairing codes of {KIND} resources"},
        },
        "data": data,
    }
