"""The bootstrap signer (upstream ``bootstrapsigner``): keeps one ``jws-kubeconfig-<token id>``
entry in kube-public/cluster-info for every valid bootstrap token with
``usage-bootstrap-signing``, a JWS (HS256, key = the token secret, ``kid`` = the token id) of the
ConfigMap's ``kubeconfig`` with the payload detached, so a joining node holding the token can
check the cluster-info it fetched anonymously. Entries of tokens gone or expired are removed."""

from __future__ import annotations

import logging
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from kubeplane.client import Conflict, DeletedFinalStateUnknown, EventHandlers
from kubeplane.controllers.bootstrap.tokens import (
    CONFIGMAPS,
    JSON,
    SECRETS,
    TOKEN_SECRETS_SELECTOR,
    signing_token,
    time_left,
)
from kubeplane.controllers.controller import ControllerContext, ResourceController
from kubeplane.machinery.objects import clone

log = logging.getLogger(__name__)

CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"
CLUSTER_INFO_KEY = f"{CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME}"
KUBECONFIG_KEY = "kubeconfig"
SIGNATURE_PREFIX = "jws-kubeconfig-"


def detached_signature(content: str, token_id: str, token_secret: str) -> str:
    """``<header>..<signature>``: a compact JWS of ``content`` with its payload part cut out, header
    ``{"alg":"HS256","kid":"<token id>"}`` as upstream's (no ``typ``). The payload is signed
    base64url-encoded as usual (not RFC 7797's ``b64: false``, which PyJWT's detached mode uses),
    so a verifier puts ``base64url(content)`` back between the dots, as kubeadm does."""
    with warnings.catch_warnings():
        # Bootstrap token secrets are 16 characters by definition; PyJWT would like 32 for HS256.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        full = jwt.PyJWS().encode(content.encode(), token_secret, algorithm="HS256",
                                  headers={"kid": token_id, "typ": None})
    header, _payload, signature = full.split(".")
    return f"{header}..{signature}"


def desired_data(cluster_info: JSON, secrets: list[JSON], now: object) -> dict[str, str]:
    """cluster-info's data with exactly the signatures the signing tokens call for."""
    data = {k: v for k, v in (cluster_info.get("data") or {}).items() if not k.startswith(SIGNATURE_PREFIX)}
    content = data.get(KUBECONFIG_KEY)
    if content is None:
        return data  # nothing to sign: upstream drops every signature too
    for secret in secrets:
        token = signing_token(secret, now)  # type: ignore[arg-type]
        if token is not None:
            data[SIGNATURE_PREFIX + token[0]] = detached_signature(content, *token)
    return data


class BootstrapSignerController(ResourceController):
    name = "bootstrap-signer-controller"
    component = "bootstrapsigner"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        # Every change of a token or of cluster-info leads to one re-sign of cluster-info.
        resign = EventHandlers(on_add=self._resign, on_update=lambda _old, new: self._resign(new),
                               on_delete=self._resign)
        self.secrets = self.informer(SECRETS, resign, field_selector=TOKEN_SECRETS_SELECTOR)
        self.configmaps = self.informer(CONFIGMAPS, resign, field_selector=(
            f"metadata.namespace={CLUSTER_INFO_NAMESPACE},metadata.name={CLUSTER_INFO_NAME}"))

    def _resign(self, _obj: JSON | DeletedFinalStateUnknown) -> None:
        self.queue.add(CLUSTER_INFO_KEY)

    async def sync(self, key: str) -> None:
        cluster_info = self.configmaps.get(CLUSTER_INFO_KEY)
        if cluster_info is None:
            return
        now = self.clock.wall()
        secrets = self.secrets.list()
        data = desired_data(cluster_info, secrets, now)
        # A signing token's signature must go when it expires, with no other event to say so.
        expiries = [left for secret in secrets if signing_token(secret, now) is not None
                    and (left := time_left(secret, now)) is not None]
        if expiries:
            self.queue.add_after(CLUSTER_INFO_KEY, min(expiries) + 1)
        if data == (cluster_info.get("data") or {}):
            return
        updated = clone(cluster_info)
        updated["data"] = data
        try:
            await self.client.update(CONFIGMAPS, updated)
        except Conflict:
            log.info("%s changed while signing; will sign again", CLUSTER_INFO_KEY)
            raise
