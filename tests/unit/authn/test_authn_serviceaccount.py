"""Signing and validating bound service-account tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kubeplane.apiserver.authn.keys import verifying_key
from kubeplane.apiserver.authn.serviceaccount import (
    EXTRA_CREDENTIAL_ID,
    EXTRA_POD_NAME,
    EXTRA_POD_UID,
    ServiceAccountTokenAuthenticator,
    TokenSigner,
    token_claims,
)
from kubeplane.apiserver.authn.types import AuthenticationError

ISSUER = "https://kubernetes.default.svc"
AUDIENCES = [ISSUER]


@pytest.fixture
def account(objects):
    return objects.add("serviceaccounts", "team", "builder", "sa-uid-1")


@pytest.fixture
def pod(objects):
    return objects.add("pods", "team", "web-0", "pod-uid-1", spec={"serviceAccountName": "builder"})


def _authenticator(objects, *keys, issuers=(ISSUER,), clock=time.time):
    return ServiceAccountTokenAuthenticator(list(issuers), [verifying_key(k.public_key()) for k in keys], AUDIENCES,
                                            objects, clock=clock)


def _token(key, account, *, issuer=ISSUER, audiences=AUDIENCES, lifetime=3600, now=None, **bound):
    claims = token_claims(issuer, account, audiences, lifetime, time.time() if now is None else now, **bound)
    return TokenSigner(issuer, key).sign(claims)


async def test_valid_token_names_the_service_account_and_pod(objects, rsa_key, account, pod):
    token = _token(rsa_key, account, pod=pod)
    result = await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)
    assert result is not None
    user = result.user
    assert user.name == "system:serviceaccount:team:builder"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:team")
    assert user.uid == "sa-uid-1"
    assert user.extra[EXTRA_POD_NAME] == ["web-0"] and user.extra[EXTRA_POD_UID] == ["pod-uid-1"]
    assert user.extra[EXTRA_CREDENTIAL_ID][0].startswith("JTI=")
    assert result.audiences == (ISSUER,)


async def test_token_carries_upstreams_claim_shape_and_header(rsa_key, account, pod):
    token = _token(rsa_key, account, pod=pod, now=1_700_000_000)
    header = jwt.get_unverified_header(token)
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert header == {"alg": "RS256", "kid": base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=")
                      .decode()}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:team:builder"
    assert claims["iat"] == claims["nbf"] == 1_700_000_000 and claims["exp"] == 1_700_003_600
    assert claims["kubernetes.io"] == {"namespace": "team", "serviceaccount": {"name": "builder", "uid": "sa-uid-1"},
                                       "pod": {"name": "web-0", "uid": "pod-uid-1"}}


async def test_ecdsa_keys_sign_es256(objects, ec_key, account):
    token = _token(ec_key, account)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert await _authenticator(objects, ec_key).authenticate_token(token, AUDIENCES) is not None


async def test_expired_token_is_refused(objects, rsa_key, account):
    token = _token(rsa_key, account, lifetime=600, now=time.time() - 3600)
    with pytest.raises(AuthenticationError, match="has expired"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_token_from_the_future_is_refused(objects, rsa_key, account):
    token = _token(rsa_key, account, now=time.time() + 3600)
    with pytest.raises(AuthenticationError, match="not valid yet"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_wrong_audience_is_refused(objects, rsa_key, account):
    token = _token(rsa_key, account, audiences=["vault"])
    with pytest.raises(AuthenticationError, match="audiences"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)
    # ... but a TokenReview asking for that audience gets it.
    result = await _authenticator(objects, rsa_key).authenticate_token(token, ["vault"])
    assert result is not None and result.audiences == ("vault",)


async def test_other_issuers_tokens_are_not_judged(objects, rsa_key, account):
    token = _token(rsa_key, account, issuer="https://elsewhere.example")
    assert await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES) is None
    assert await _authenticator(objects, rsa_key).authenticate_token("not-a-jwt", AUDIENCES) is None


async def test_forged_signature_is_refused(objects, rsa_key, other_rsa_key, account):
    forged = _token(other_rsa_key, account)
    with pytest.raises(AuthenticationError, match="invalid signature"):
        await _authenticator(objects, rsa_key).authenticate_token(forged, AUDIENCES)


async def test_tampered_claims_are_refused(objects, rsa_key, account):
    header, payload, signature = _token(rsa_key, account).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "system:serviceaccount:kube-system:admin"
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="invalid signature"):
        await _authenticator(objects, rsa_key).authenticate_token(f"{header}.{forged_payload}.{signature}", AUDIENCES)


async def test_unsigned_token_is_refused(objects, rsa_key, account):
    claims = token_claims(ISSUER, account, AUDIENCES, 3600, time.time())
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(AuthenticationError):
        await _authenticator(objects, rsa_key).authenticate_token(unsigned, AUDIENCES)


async def test_rotated_keys_verify_old_tokens_until_removed(objects, rsa_key, ec_key, account):
    old_token = _token(rsa_key, account)
    rotated = _authenticator(objects, ec_key, rsa_key)  # new signing key first, old one still trusted
    assert await rotated.authenticate_token(old_token, AUDIENCES) is not None
    assert await rotated.authenticate_token(_token(ec_key, account), AUDIENCES) is not None
    with pytest.raises(AuthenticationError, match="invalid signature"):
        await _authenticator(objects, ec_key).authenticate_token(old_token, AUDIENCES)


async def test_deleted_pod_invalidates_its_token(objects, rsa_key, account, pod):
    token = _token(rsa_key, account, pod=pod)
    objects.remove("pods", "team", "web-0")
    with pytest.raises(AuthenticationError, match="invalidated"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_recreated_pod_does_not_inherit_the_token(objects, rsa_key, account, pod):
    token = _token(rsa_key, account, pod=pod)
    objects.add("pods", "team", "web-0", "pod-uid-2", spec={"serviceAccountName": "builder"})
    with pytest.raises(AuthenticationError, match="does not match"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_terminating_pod_keeps_its_token_for_the_leeway_only(objects, rsa_key, account, pod):
    token = _token(rsa_key, account, pod=pod)
    pod["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))
    assert await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES) is not None
    pod["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    with pytest.raises(AuthenticationError, match="invalidated"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_deleted_or_recreated_service_account_invalidates_tokens(objects, rsa_key, account):
    token = _token(rsa_key, account)
    objects.add("serviceaccounts", "team", "builder", "sa-uid-2")
    with pytest.raises(AuthenticationError, match="UID"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)
    objects.remove("serviceaccounts", "team", "builder")
    with pytest.raises(AuthenticationError, match="not found"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_deleted_secret_invalidates_its_token(objects, rsa_key, account):
    secret = objects.add("secrets", "team", "holder", "secret-uid")
    token = _token(rsa_key, account, secret=secret)
    assert await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES) is not None
    objects.remove("secrets", "team", "holder")
    with pytest.raises(AuthenticationError, match="invalidated"):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_objects_are_read_on_every_request(objects, rsa_key, account, pod):
    """No caching: each authentication reads the service account and the pod again."""
    token = _token(rsa_key, account, pod=pod)
    authenticator = _authenticator(objects, rsa_key)
    await authenticator.authenticate_token(token, AUDIENCES)
    await authenticator.authenticate_token(token, AUDIENCES)
    assert objects.reads == 4


@pytest.mark.parametrize("mutate", [
    lambda c: c.pop("kubernetes.io"),
    lambda c: c["kubernetes.io"].update(pod="web-0"),
    lambda c: c["kubernetes.io"].update(node=["n1"]),
    lambda c: c.update(exp="tomorrow"),
    lambda c: c.pop("exp"),
])
async def test_malformed_signed_claims_are_refused(objects, rsa_key, account, mutate):
    claims = token_claims(ISSUER, account, AUDIENCES, 3600, time.time())
    mutate(claims)
    token = TokenSigner(ISSUER, rsa_key).sign(claims)
    with pytest.raises(AuthenticationError):
        await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES)


async def test_non_string_issuer_is_not_ours(objects, rsa_key, account):
    claims = token_claims(ISSUER, account, AUDIENCES, 3600, time.time())
    claims["iss"] = [ISSUER]
    token = jwt.PyJWS().encode(json.dumps(claims).encode(), rsa_key, algorithm="RS256")  # PyJWT's JWT API refuses
    assert await _authenticator(objects, rsa_key).authenticate_token(token, AUDIENCES) is None
