"""Bound service-account tokens: the JWT claims upstream issues, signing, and validation.

A token names its service account (and optionally the pod, secret or node it is bound to) by name
and uid under the private ``kubernetes.io`` claim. Validation checks the signature against every
verifying key (so keys can be rotated), the issuer, the audience, the time window, and then reads
the named objects again: a token whose service account, pod or secret is gone (or replaced by a
namesake with another uid) stops working at once. Nothing here caches objects for that reason.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import jwt

from kubeplane.apiserver.authn.keys import PrivateKey, VerifyingKey, algorithm_for, key_id
from kubeplane.apiserver.authn.types import (
    JSON,
    AuthenticationError,
    ObjectReader,
    TokenResult,
)
from kubeplane.apiserver.authz import UserInfo, service_account_groups, service_account_username

log = logging.getLogger(__name__)

DEFAULT_ISSUER = "https://kubernetes.default.svc"
PRIVATE_CLAIM = "kubernetes.io"
# go-jose's DefaultLeeway, which upstream applies to exp/nbf/iat and to deletion timestamps.
LEEWAY_SECONDS = 60
# The kubelet asks for this odd lifetime; upstream then issues a year-long token that warns after it.
WARN_ONLY_EXPIRATION_SECONDS = 60 * 60 + 7
EXTENDED_EXPIRATION_SECONDS = 24 * 365 * 60 * 60

EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"

Clock = Callable[[], float]


def _ref(obj: JSON) -> JSON:
    meta = obj["metadata"]
    return {"name": meta["name"], "uid": meta.get("uid", "")}


def token_claims(issuer: str, service_account: JSON, audiences: Sequence[str], expiration_seconds: int,
                 now: float, *, pod: JSON | None = None, secret: JSON | None = None, node: JSON | None = None,
                 warn_after_seconds: int = 0, with_jti: bool = True) -> JSON:
    """Upstream's public and private claims; ``node`` goes with a pod (where it runs) or alone."""
    if secret is not None and (pod is not None or node is not None):
        raise ValueError("a token is bound to one object at most")
    meta = service_account["metadata"]
    issued = int(now)
    private: JSON = {"namespace": meta["namespace"], "serviceaccount": _ref(service_account)}
    if pod is not None:
        private["pod"] = _ref(pod)
    if secret is not None:
        private["secret"] = _ref(secret)
    if node is not None:
        private["node"] = _ref(node)
    if warn_after_seconds:
        private["warnafter"] = issued + warn_after_seconds
    claims: JSON = {
        "aud": list(audiences),
        "exp": issued + expiration_seconds,
        "iat": issued,
        "iss": issuer,
        PRIVATE_CLAIM: private,
        "nbf": issued,
        "sub": service_account_username(meta["namespace"], meta["name"]),
    }
    if with_jti:
        claims["jti"] = str(uuid.uuid4())
    return claims


class TokenSigner:
    """Signs claims with the cluster's service-account key (RS256 for RSA keys, ES256.. for ECDSA)."""

    def __init__(self, issuer: str, private_key: PrivateKey) -> None:
        self.issuer = issuer
        self.private_key = private_key
        self.algorithm = algorithm_for(private_key)
        self.kid = key_id(private_key.public_key())

    def sign(self, claims: JSON) -> str:
        # No "typ" header: upstream's tokens carry only alg and kid.
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": None})


def _deleted_before(obj: JSON, cutoff: float) -> bool:
    stamp = obj["metadata"].get("deletionTimestamp")
    if not stamp:
        return False
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() < cutoff


class ServiceAccountTokenAuthenticator:
    """Validates bound service-account JWTs from the configured issuers."""

    def __init__(self, issuers: Sequence[str], keys: Sequence[VerifyingKey], api_audiences: Sequence[str],
                 objects: ObjectReader, clock: Clock = time.time) -> None:
        self.issuers = frozenset(issuers)
        self.keys = list(keys)
        self.api_audiences = tuple(api_audiences)
        self.objects = objects
        self.clock = clock

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None  # not a JWT: some other authenticator's token
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            return None  # another issuer's JWT (OIDC, legacy secret tokens ...)
        claims = self._verified_claims(token)
        valid_for = self._audiences(claims, audiences)
        now = self.clock()
        self._check_times(claims, now)
        private = claims.get(PRIVATE_CLAIM)
        if not isinstance(private, dict) or not isinstance(private.get("serviceaccount"), dict):
            raise AuthenticationError("service account token is missing the kubernetes.io claims")
        user = await self._validate_objects(claims, private, now - LEEWAY_SECONDS)
        return TokenResult(user, valid_for)

    def _verified_claims(self, token: str) -> JSON:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"malformed token header: {exc}") from exc
        # Every key is tried (the key named by kid first): tokens signed before a rotation stay valid.
        ordered = sorted(self.keys, key=lambda k: k.kid != kid)
        for key in ordered:
            try:
                claims: JSON = jwt.decode(token, key.public_key, algorithms=[key.algorithm], options={
                    "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                    "verify_iss": False})
                return claims
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAlgorithmError:
                continue
            except jwt.PyJWTError as exc:
                raise AuthenticationError(f"invalid token: {exc}") from exc
        raise AuthenticationError("invalid signature")

    def _audiences(self, claims: JSON, wanted: Sequence[str]) -> tuple[str, ...]:
        aud = claims.get("aud")
        token_audiences = [aud] if isinstance(aud, str) else [a for a in aud or () if isinstance(a, str)]
        if not token_audiences:
            token_audiences = list(self.api_audiences)  # upstream's implicit audiences
        requested = list(wanted) or list(self.api_audiences)
        matched = tuple(a for a in requested if a in token_audiences)
        if not matched:
            raise AuthenticationError(f"token audiences {token_audiences} is invalid for the target audiences "
                                      f"{requested}")
        return matched

    @staticmethod
    def _check_times(claims: JSON, now: float) -> None:
        def number(name: str) -> float | None:
            value = claims.get(name)
            if value is None:
                return None
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise AuthenticationError(f"service account token claim {name} is not a number")
            return float(value)

        exp, nbf, iat = number("exp"), number("nbf"), number("iat")
        if exp is None:
            raise AuthenticationError("service account token has no expiry")
        if now - LEEWAY_SECONDS > exp:
            raise AuthenticationError("service account token has expired")
        if nbf is not None and now + LEEWAY_SECONDS < nbf:
            raise AuthenticationError("service account token is not valid yet")
        if iat is not None and now + LEEWAY_SECONDS < iat:
            raise AuthenticationError("service account token is issued in the future")

    async def _validate_objects(self, claims: JSON, private: JSON, deleted_cutoff: float) -> UserInfo:
        namespace = str(private.get("namespace", ""))
        sa_ref = private["serviceaccount"]
        sa = await self.objects.get("serviceaccounts", namespace, str(sa_ref.get("name", "")))
        if sa is None:
            raise AuthenticationError(f'serviceaccounts "{sa_ref.get("name")}" not found')
        if sa["metadata"].get("uid") != sa_ref.get("uid"):
            raise AuthenticationError(f"service account UID ({sa['metadata'].get('uid')}) does not match claim "
                                      f"({sa_ref.get('uid')})")
        if _deleted_before(sa, deleted_cutoff):
            raise AuthenticationError(f"service account {namespace}/{sa_ref.get('name')} has been deleted")
        for kind, resource in (("secret", "secrets"), ("pod", "pods")):
            ref = private.get(kind)
            if ref is None:
                continue
            await self._check_bound(resource, namespace, ref, deleted_cutoff)
        extra: dict[str, list[str]] = {}
        pod_ref, node_ref = private.get("pod"), private.get("node")
        if not isinstance(node_ref, dict | None):
            raise AuthenticationError("service account token has a malformed object reference")
        if pod_ref is not None:
            extra[EXTRA_POD_NAME] = [str(pod_ref.get("name", ""))]
            extra[EXTRA_POD_UID] = [str(pod_ref.get("uid", ""))]
        if node_ref is not None:
            if pod_ref is None:  # bound to the node itself: it must still exist
                await self._check_bound("nodes", "", node_ref, deleted_cutoff)
            extra[EXTRA_NODE_NAME] = [str(node_ref.get("name", ""))]
            extra[EXTRA_NODE_UID] = [str(node_ref.get("uid", ""))]
        if claims.get("jti"):
            extra[EXTRA_CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
        name = str(sa_ref.get("name", ""))
        return UserInfo(service_account_username(namespace, name), service_account_groups(namespace),
                        str(sa_ref.get("uid", "")), extra)

    async def _check_bound(self, resource: str, namespace: str, ref: Any, deleted_cutoff: float) -> None:
        if not isinstance(ref, dict):
            raise AuthenticationError("service account token has a malformed object reference")
        obj = await self.objects.get(resource, namespace, str(ref.get("name", "")))
        if obj is None or _deleted_before(obj, deleted_cutoff):
            log.info("token bound to %s %s/%s rejected: object gone", resource, namespace, ref.get("name"))
            raise AuthenticationError("service account token has been invalidated")
        if obj["metadata"].get("uid") != ref.get("uid"):
            kind = resource[:-1]
            raise AuthenticationError(f"{kind} UID ({obj['metadata'].get('uid')}) does not match service account "
                                      f"{kind} ref claim ({ref.get('uid')})")
