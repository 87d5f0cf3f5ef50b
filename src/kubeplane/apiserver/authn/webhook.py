"""The webhook token authenticator: a TokenReview v1 POSTed to a service named by a kubeconfig file
(``--authentication-token-webhook-config-file``), answers cached for a short TTL.

As upstream, both "authenticated" and "not authenticated" answers are cached for the TTL (default
two minutes); a failed call (unreachable, timeout, bad answer) is not cached and the request gets 401.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from kubeplane.apiserver.authn.types import JSON, AuthenticationError, TokenResult
from kubeplane.apiserver.authz import UserInfo

DEFAULT_CACHE_TTL = 120.0
REQUEST_TIMEOUT = 10.0
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class WebhookTarget:
    server: str
    ssl_context: ssl.SSLContext
    bearer_token: str = ""


def _material(entry: JSON, key: str, base: Path) -> bytes | None:
    """A kubeconfig field given inline (``<key>-data``, base64) or as a file path relative to the file."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / entry[key]).read_bytes()
    return None


def _named(config: JSON, section: str, name: str | None) -> JSON:
    items = config.get(section) or []
    for item in items:
        if name is None or item.get("name") == name:
            return item.get(section[:-1]) or {}
    raise ValueError(f"kubeconfig has no {section[:-1]} {name!r}")


def load_webhook_config(path: Path) -> WebhookTarget:
    """The current context's cluster (server, CA) and user (client certificate or bearer token)."""
    config = yaml.safe_load(path.read_text()) or {}
    context_name = config.get("current-context")
    context = _named(config, "contexts", context_name) if context_name else {}
    cluster = _named(config, "clusters", context.get("cluster"))
    user = _named(config, "users", context.get("user")) if config.get("users") else {}
    server = cluster.get("server", "")
    if not server.startswith("https://"):
        raise ValueError(f"{path}: the webhook server must be an https:// URL, got {server!r}")
    context_ssl = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca = _material(cluster, "certificate-authority", path.parent)
    if ca is not None:
        context_ssl.load_verify_locations(cadata=ca.decode())
    cert, key = _material(user, "client-certificate", path.parent), _material(user, "client-key", path.parent)
    if cert is not None and key is not None:
        # load_cert_chain only reads files: hand it private temporary ones, removed at once.
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            cert_path.write_bytes(cert)
            key_path.write_bytes(key)
            context_ssl.load_cert_chain(str(cert_path), str(key_path))
    return WebhookTarget(server, context_ssl, str(user.get("token", "")))


class WebhookTokenAuthenticator:
    def __init__(self, target: WebhookTarget, api_audiences: Sequence[str], cache_ttl: float = DEFAULT_CACHE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.api_audiences = tuple(api_audiences)
        self.cache_ttl = cache_ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, TokenResult | None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0  # TokenReviews actually sent (visible for tests and metrics)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        wanted = tuple(audiences) or self.api_audiences
        key = hashlib.sha256("\0".join((token, *wanted)).encode()).hexdigest()
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        result = await self._review(token, wanted)
        self._remember(key, now + self.cache_ttl, result)
        return result

    def _remember(self, key: str, expires: float, result: TokenResult | None) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            now = self.clock()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        self._cache[key] = (expires, result)

    async def _review(self, token: str, wanted: tuple[str, ...]) -> TokenResult | None:
        check_audiences = bool(self.api_audiences and wanted)
        spec: JSON = {"token": token}
        if check_audiences:
            spec["audiences"] = list(wanted)
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        answer = await self._post(review)
        status = answer.get("status") or {}
        if not status.get("authenticated"):
            if status.get("error"):
                raise AuthenticationError(str(status["error"]))
            return None
        user = status.get("user") or {}
        extra = {str(k): [str(v) for v in vs] for k, vs in (user.get("extra") or {}).items()}
        info = UserInfo(str(user.get("username", "")), tuple(str(g) for g in user.get("groups") or ()),
                        str(user.get("uid", "")), extra)
        got = tuple(status.get("audiences") or ()) or self.api_audiences
        matched = tuple(a for a in wanted if a in got) if check_audiences else wanted
        if check_audiences and not matched:
            return None
        return TokenResult(info, matched)

    async def _post(self, review: JSON) -> JSON:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.target.bearer_token:
            headers["Authorization"] = f"Bearer {self.target.bearer_token}"
        self.calls += 1
        try:
            async with self._session.post(self.target.server, json=review, headers=headers,
                                          ssl=self.target.ssl_context) as response:
                if response.status // 100 != 2:
                    raise AuthenticationError(f"token webhook answered HTTP {response.status}")
                body: Any = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise AuthenticationError(f"token webhook call failed: {exc!r}") from exc
        if not isinstance(body, dict):
            raise AuthenticationError("token webhook answered something other than a TokenReview")
        return body
