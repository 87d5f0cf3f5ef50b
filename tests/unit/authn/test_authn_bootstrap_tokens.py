"""Bootstrap tokens checked against kube-system Secrets."""

from __future__ import annotations

import base64
import time

import pytest

from kubeplane.apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def secret(objects):
    return objects.add("secrets", "kube-system", "bootstrap-token-abcdef", "s-uid",
                       type="bootstrap.kubernetes.io/token", data={
                           "token-id": _b64("abcdef"), "token-secret": _b64("0123456789abcdef"),
                           "usage-bootstrap-authentication": _b64("true"),
                           "auth-extra-groups": _b64("system:bootstrappers:kubeadm:default-node-token"),
                           "expiration": _b64(time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                            time.gmtime(time.time() + 3600)))})


async def test_valid_token(objects, secret):
    result = await BootstrapTokenAuthenticator(objects).authenticate_token("abcdef.0123456789abcdef", [])
    assert result is not None
    assert result.user.name == "system:bootstrap:abcdef"
    assert result.user.groups == ("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token")


@pytest.mark.parametrize("token", ["abcdef.0123456789abcdee", "abcdeg.0123456789abcdef", "abcdef0123456789abcdef",
                                   "ABCDEF.0123456789ABCDEF"])
async def test_wrong_or_malformed_tokens(objects, secret, token):
    assert await BootstrapTokenAuthenticator(objects).authenticate_token(token, []) is None


@pytest.mark.parametrize(("key", "value"), [
    ("expiration", "2000-01-01T00:00:00Z"),
    ("usage-bootstrap-authentication", "false"),
    ("auth-extra-groups", "system:masters"),
])
async def test_secret_content_can_disable_the_token(objects, secret, key, value):
    secret["data"][key] = _b64(value)
    assert await BootstrapTokenAuthenticator(objects).authenticate_token("abcdef.0123456789abcdef", []) is None


async def test_wrong_secret_type_or_deleting_secret(objects, secret):
    authenticator = BootstrapTokenAuthenticator(objects)
    secret["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert await authenticator.authenticate_token("abcdef.0123456789abcdef", []) is None
    del secret["metadata"]["deletionTimestamp"]
    secret["type"] = "Opaque"
    assert await authenticator.authenticate_token("abcdef.0123456789abcdef", []) is None
