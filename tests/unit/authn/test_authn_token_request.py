"""The TokenRequest API's validation and the tokens it issues."""

from __future__ import annotations

import jwt
import pytest

from kubeplane.apiserver.authn.serviceaccount import TokenSigner
from kubeplane.apiserver.authn.token_request import TokenIssuer
from kubeplane.machinery.errors import StatusError

ISSUER = "https://kubernetes.default.svc"
NOW = 1_700_000_000.0


@pytest.fixture
def issuer(objects, rsa_key):
    objects.add("serviceaccounts", "team", "builder", "sa-uid")
    objects.add("pods", "team", "web-0", "pod-uid", spec={"serviceAccountName": "builder", "nodeName": "n1"})
    objects.add("nodes", "", "n1", "node-uid")
    objects.add("pods", "team", "other", "other-uid", spec={"serviceAccountName": "default"})
    return TokenIssuer(TokenSigner(ISSUER, rsa_key), [ISSUER], objects, "1.33", clock=lambda: NOW)


def _claims(out):
    return jwt.decode(out["status"]["token"], options={"verify_signature": False})


async def test_defaults_one_hour_and_the_api_audiences(issuer):
    out = await issuer.create("team", "builder", {"spec": {}})
    assert out["kind"] == "TokenRequest" and out["apiVersion"] == "authentication.k8s.io/v1"
    assert out["spec"]["expirationSeconds"] == 3600 and out["spec"]["audiences"] == [ISSUER]
    assert out["status"]["expirationTimestamp"] == "2023-11-14T23:13:20Z"
    claims = _claims(out)
    assert claims["exp"] - claims["iat"] == 3600 and claims["aud"] == [ISSUER]
    assert "pod" not in claims["kubernetes.io"]


async def test_pod_bound_token_records_pod_and_node(issuer):
    out = await issuer.create("team", "builder", {"spec": {
        "audiences": ["vault"], "expirationSeconds": 600,
        "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0"}}})
    private = _claims(out)["kubernetes.io"]
    assert private["pod"] == {"name": "web-0", "uid": "pod-uid"}
    assert private["node"] == {"name": "n1", "uid": "node-uid"}
    assert _claims(out)["aud"] == ["vault"]


async def test_kubelet_lifetime_is_extended_with_warnafter(issuer):
    out = await issuer.create("team", "builder", {"spec": {
        "expirationSeconds": 3607, "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0"}}})
    claims = _claims(out)
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607


@pytest.mark.parametrize(("spec", "code", "message"), [
    ({"expirationSeconds": 599}, 422, "may not specify a duration less than 10 minutes"),
    ({"expirationSeconds": (1 << 32) + 1}, 422, "larger than 2^32 seconds"),
    ({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}, 400, "cannot bind token to object"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "missing"}}, 404, 'pods "missing" not found'),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other"}}, 400, "different serviceaccount name"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "stale"}}, 409,
     "does not match the UID in record"),
])
async def test_invalid_requests_get_upstreams_errors(issuer, spec, code, message):
    with pytest.raises(StatusError) as raised:
        await issuer.create("team", "builder", {"spec": spec})
    assert raised.value.code == code and message in raised.value.message


async def test_unknown_service_account_is_404(issuer):
    with pytest.raises(StatusError) as raised:
        await issuer.create("team", "nobody", {"spec": {}})
    assert raised.value.code == 404 and raised.value.message == 'serviceaccounts "nobody" not found'


async def test_node_binding_is_refused_before_1_31(objects, rsa_key):
    objects.add("serviceaccounts", "team", "builder", "sa-uid")
    objects.add("nodes", "", "n1", "node-uid")
    old = TokenIssuer(TokenSigner(ISSUER, rsa_key), [ISSUER], objects, "1.30")
    ref = {"boundObjectRef": {"kind": "Node", "apiVersion": "v1", "name": "n1"}}
    with pytest.raises(StatusError) as raised:
        await old.create("team", "builder", {"spec": ref})
    assert raised.value.code == 400
    new = TokenIssuer(TokenSigner(ISSUER, rsa_key), [ISSUER], objects, "1.31")
    out = await new.create("team", "builder", {"spec": ref})
    assert _claims(out)["kubernetes.io"]["node"] == {"name": "n1", "uid": "node-uid"}
