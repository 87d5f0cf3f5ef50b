"""Bootstrap signer and token cleaner against the in-memory API: cluster-info gets one detached
JWS per signing token (and loses those of tokens gone or expired); expired tokens are deleted,
live ones looked at again when they expire."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest

from kubeplane.controllers.bootstrap import (
    BootstrapSignerController,
    TokenCleanerController,
    detached_signature,
)
from kubeplane.controllers.bootstrap.signer import CLUSTER_INFO_KEY
from kubeplane.controllers.bootstrap.tokens import CONFIGMAPS, SECRETS, TOKEN_SECRETS_SELECTOR

KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def token_secret(token_id: str, secret: str = "0123456789abcdef", expiration: str | None = None,
                 signing: bool = True) -> dict[str, Any]:
    data = {"token-id": b64(token_id), "token-secret": b64(secret),
            "usage-bootstrap-authentication": b64("true")}
    if signing:
        data["usage-bootstrap-signing"] = b64("true")
    if expiration is not None:
        data["expiration"] = b64(expiration)
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "data": data}


def cluster_info(extra: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
            "data": {"kubeconfig": KUBECONFIG, **(extra or {})}}


def feed(api: Any, ctx: Any) -> None:
    ctx.informers.informer_for(SECRETS, field_selector=TOKEN_SECRETS_SELECTOR).indexer.replace(api.all(SECRETS))
    selector = "metadata.namespace=kube-public,metadata.name=cluster-info"
    ctx.informers.informer_for(CONFIGMAPS, field_selector=selector).indexer.replace(api.all(CONFIGMAPS))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_detached_signature_verifies_with_the_token_secret_and_has_upstreams_header() -> None:
    signature = detached_signature(KUBECONFIG, "abcdef", "0123456789abcdef")
    header, payload, _ = signature.split(".")
    assert payload == ""
    assert base64.urlsafe_b64decode(header + "==") == b'{"alg":"HS256","kid":"abcdef"}'
    # What a joining node does: put the content back, then verify with its token's secret.
    attached = signature.replace("..", "." + base64.urlsafe_b64encode(KUBECONFIG.encode()).decode().rstrip("=") + ".")
    assert jwt.PyJWS().decode(attached, "0123456789abcdef", algorithms=["HS256"]) == KUBECONFIG.encode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.PyJWS().decode(attached, "fedcba9876543210", algorithms=["HS256"])


async def test_signer_adds_signatures_of_signing_tokens_only(api: Any, ctx: Any) -> None:
    controller = BootstrapSignerController(ctx)
    api.put(CONFIGMAPS, cluster_info({"jws-kubeconfig-gone00": "stale"}))
    api.put(SECRETS, token_secret("abcdef"))
    api.put(SECRETS, token_secret("nosign", signing=False))
    api.put(SECRETS, token_secret("old000", expiration="2025-01-01T00:00:00Z"))
    api.put(SECRETS, token_secret("later0", expiration="2026-01-02T00:00:00Z"))
    feed(api, ctx)
    await controller.sync(CLUSTER_INFO_KEY)
    data = api.all(CONFIGMAPS)[0]["data"]
    assert set(data) == {"kubeconfig", "jws-kubeconfig-abcdef", "jws-kubeconfig-later0"}
    assert data["jws-kubeconfig-abcdef"] == detached_signature(KUBECONFIG, "abcdef", "0123456789abcdef")
    assert controller.queue.waiting() == 1  # looked at again when later0 expires


async def test_signer_writes_nothing_when_signatures_are_current(api: Any, ctx: Any) -> None:
    controller = BootstrapSignerController(ctx)
    api.put(CONFIGMAPS, cluster_info({"jws-kubeconfig-abcdef": detached_signature(KUBECONFIG, "abcdef",
                                                                                   "0123456789abcdef")}))
    api.put(SECRETS, token_secret("abcdef"))
    feed(api, ctx)
    await controller.sync(CLUSTER_INFO_KEY)
    assert api.count("update", "configmaps") == 0


async def test_signer_drops_the_signature_of_an_expired_token(api: Any, ctx: Any, clock: Any) -> None:
    controller = BootstrapSignerController(ctx)
    api.put(CONFIGMAPS, cluster_info())
    api.put(SECRETS, token_secret("abcdef", expiration="2026-01-01T00:01:00Z"))
    feed(api, ctx)
    await controller.sync(CLUSTER_INFO_KEY)
    assert "jws-kubeconfig-abcdef" in api.all(CONFIGMAPS)[0]["data"]
    clock.step(61)
    feed(api, ctx)
    await controller.sync(CLUSTER_INFO_KEY)
    assert api.all(CONFIGMAPS)[0]["data"] == {"kubeconfig": KUBECONFIG}


async def test_cleaner_deletes_expired_tokens_with_a_uid_precondition(api: Any, ctx: Any) -> None:
    deletes: list[dict[str, Any]] = []
    original = api.delete

    async def recording_delete(*args: Any, **kwargs: Any) -> Any:
        deletes.append(kwargs)
        return await original(*args, **kwargs)

    api.delete = recording_delete
    controller = TokenCleanerController(ctx)
    stored = api.put(SECRETS, token_secret("old000", expiration="2025-12-31T23:59:59Z"))
    api.put(SECRETS, token_secret("broken", expiration="not a time"))
    feed(api, ctx)
    await controller.sync("kube-system/bootstrap-token-old000")
    await controller.sync("kube-system/bootstrap-token-broken")
    assert api.all(SECRETS) == []
    assert deletes[0] == {"preconditions": {"uid": stored["metadata"]["uid"]}}


async def test_cleaner_keeps_live_tokens_until_they_expire(api: Any, ctx: Any, clock: Any) -> None:
    controller = TokenCleanerController(ctx)
    api.put(SECRETS, token_secret("later0", expiration="2026-01-01T00:10:00Z"))
    api.put(SECRETS, token_secret("never0"))
    feed(api, ctx)
    await controller.sync("kube-system/bootstrap-token-later0")
    await controller.sync("kube-system/bootstrap-token-never0")
    assert len(api.all(SECRETS)) == 2
    assert controller.queue.waiting() == 1  # only the expiring one comes back
    clock.step(600)
    await controller.sync("kube-system/bootstrap-token-later0")
    assert [s["metadata"]["name"] for s in api.all(SECRETS)] == ["bootstrap-token-never0"]
