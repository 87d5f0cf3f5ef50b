"""Who may use the kubelet's API: upstream's x509 authentication and webhook authorization.

A client certificate signed by ``--client-ca-file`` names the user (CN) and groups (O). The
request is then put to the API server as a SubjectAccessReview on the node, as upstream's kubelet
does with ``--authorization-mode=Webhook``: ``/containerLogs``, ``/exec``, ``/attach``,
``/portForward`` and ``/pods`` are the ``proxy`` subresource of ``nodes/<name>``, with the verb
from the HTTP method. Answers are cached (allowed 5 minutes, denied 30 seconds, as upstream).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubeplane.component.certuser import name_and_groups_from_peer_cert

log = logging.getLogger(__name__)

JSON = dict[str, Any]

ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


def user_from_peer_cert(cert: dict[str, Any] | None) -> User | None:
    """The user of a verified certificate (``ssl.SSLSocket.getpeercert()``'s shape), or None."""
    identity = name_and_groups_from_peer_cert(cert)
    return User(*identity) if identity is not None else None


def verb_for(method: str) -> str:
    return _VERBS.get(method.upper(), method.lower())


def subresource_for(path: str) -> str:
    """Upstream's mapping from kubelet path to node subresource."""
    for prefix, sub in (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec")):
        if path == prefix or path.startswith(prefix + "/"):
            return sub
    return "proxy"


Review = Callable[[JSON], Awaitable[JSON]]


class WebhookAuthorizer:
    """Asks the API server through ``review`` (a SubjectAccessReview create) and caches the answer."""

    def __init__(self, node_name: str, review: Review, clock: Callable[[], float] = time.monotonic) -> None:
        self.node_name = node_name
        self.review = review
        self.clock = clock
        self._cache: dict[tuple[str, tuple[str, ...], str, str], tuple[float, bool, str]] = {}

    async def authorize(self, user: User, method: str, path: str) -> tuple[bool, str]:
        verb, sub = verb_for(method), subresource_for(path)
        key = (user.name, user.groups, verb, sub)
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": user.name, "groups": list(user.groups),
                         "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": sub,
                                                "name": self.node_name}}}
        status = (await self.review(body)).get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        reason = str(status.get("reason") or "")
        self._cache[key] = (now + (ALLOWED_TTL if allowed else DENIED_TTL), allowed, reason)
        return allowed, reason

    @staticmethod
    def forbidden_message(user: User, method: str, path: str, node_name: str) -> str:
        return (f"Forbidden (user={user.name}, verb={verb_for(method)}, resource=nodes, "
                f"subresource={subresource_for(path)})")
