"""The TokenRequest API (``POST .../serviceaccounts/<name>/token``): issue a bound token.

Validation and errors follow upstream's REST storage: expirationSeconds at least 10 minutes
(default one hour), audiences defaulting to the API audiences, a bound object that must be a Pod
(running as this service account), a Secret, or (1.31+) a Node, whose uid must match when given.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from kubeplane.apiserver.authn.serviceaccount import (
    EXTENDED_EXPIRATION_SECONDS,
    WARN_ONLY_EXPIRATION_SECONDS,
    TokenSigner,
    token_claims,
)
from kubeplane.apiserver.authn.types import JSON, ObjectReader
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause

GROUP = "authentication.k8s.io"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _minor_number(minor: str) -> int:
    return int(minor.split(".")[-1])


def _rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenIssuer:
    def __init__(self, signer: TokenSigner, api_audiences: Sequence[str], objects: ObjectReader, minor: str,
                 extend_expiration: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.signer = signer
        self.api_audiences = tuple(api_audiences)
        self.objects = objects
        self.minor = _minor_number(minor)
        self.extend_expiration = extend_expiration
        self.clock = clock

    async def create(self, namespace: str, name: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a TokenRequest")
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request("name in URL does not match name in TokenRequest body")
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("namespace in URL does not match namespace in TokenRequest body")
        spec = dict(body.get("spec") or {})
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION_SECONDS
        _validate_expiration(expiration)
        audiences = [str(a) for a in spec.get("audiences") or ()] or list(self.api_audiences)
        sa = await self.objects.get("serviceaccounts", namespace, name)
        if sa is None:
            raise errors.not_found("", "serviceaccounts", name)
        pod, secret, node = await self._bound_objects(namespace, name, spec.get("boundObjectRef"))
        lifetime, warn_after = expiration, 0
        if (self.extend_expiration and pod is not None and expiration == WARN_ONLY_EXPIRATION_SECONDS
                and set(audiences) <= set(self.api_audiences)):
            # The kubelet's projected tokens: valid for a year, flagged as stale after the hour.
            lifetime, warn_after = EXTENDED_EXPIRATION_SECONDS, WARN_ONLY_EXPIRATION_SECONDS
        now = self.clock()
        claims = token_claims(self.signer.issuer, sa, audiences, lifetime, now, pod=pod, secret=secret, node=node,
                              warn_after_seconds=warn_after, with_jti=self.minor >= 30)
        out = copy.deepcopy(body)
        out["apiVersion"], out["kind"] = f"{GROUP}/v1", "TokenRequest"
        out_meta = out.setdefault("metadata", {})
        out_meta.update(name=name, namespace=namespace)
        out_meta.setdefault("creationTimestamp", None)
        out["spec"] = {**spec, "audiences": audiences, "expirationSeconds": expiration,
                       "boundObjectRef": spec.get("boundObjectRef")}
        out["status"] = {"token": self.signer.sign(claims),
                         "expirationTimestamp": _rfc3339(now + expiration)}
        return out

    async def _bound_objects(self, namespace: str, sa_name: str, ref: Any
                             ) -> tuple[JSON | None, JSON | None, JSON | None]:
        if not ref:
            return None, None, None
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind, api_version, name = ref.get("kind", ""), ref.get("apiVersion", ""), ref.get("name", "")
        allowed = {"Pod", "Secret"} | ({"Node"} if self.minor >= 31 else set())
        if api_version != "v1" or kind not in allowed:
            group_version = api_version or "/"
            raise errors.bad_request(f"cannot bind token to object of type {group_version}, Kind={kind}")
        resource = _BINDABLE[kind]
        obj = await self.objects.get(resource, "" if kind == "Node" else namespace, name)
        if obj is None:
            raise errors.not_found("", resource, name)
        if ref.get("uid") and ref["uid"] != obj["metadata"].get("uid"):
            raise errors.conflict("", kind, name, f"the UID in the bound object reference ({ref['uid']}) does not "
                                  "match the UID in record. The object might have been deleted and then recreated")
        if kind == "Node":
            return None, None, obj
        if kind == "Secret":
            return None, obj, None
        if (obj.get("spec") or {}).get("serviceAccountName", "default") != sa_name:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with '
                                     "different serviceaccount name.")
        node = None
        node_name = (obj.get("spec") or {}).get("nodeName")
        if node_name and self.minor >= 30:  # upstream records where the pod runs, when it can tell
            node = await self.objects.get("nodes", "", node_name)
        return obj, None, node


def _validate_expiration(value: Any) -> None:
    field = "spec.expirationSeconds"
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.invalid(GROUP, "TokenRequest", "", [Cause("FieldValueInvalid", f"Invalid value: {value!r}: "
                                                               "must be an integer", field)])
    if value < MIN_EXPIRATION_SECONDS:
        raise errors.invalid(GROUP, "TokenRequest", "", [Cause(
            "FieldValueInvalid", f"Invalid value: {value}: may not specify a duration less than 10 minutes", field)])
    if value > MAX_EXPIRATION_SECONDS:
        raise errors.invalid(GROUP, "TokenRequest", "", [Cause(
            "FieldValueInvalid", f"Invalid value: {value}: may not specify a duration larger than 2^32 seconds",
            field)])
