"""The request authenticator: certificates, bearer tokens, anonymous, and failures that stay failures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kubeplane.apiserver.authn.chain import (
    AudienceAgnostic,
    RequestAuthenticator,
    Unauthenticated,
    bearer_token,
)
from kubeplane.apiserver.authn.types import ANONYMOUS, AuthenticationError, TokenResult
from kubeplane.apiserver.authz import UserInfo

CERT = {"subject": ((("organizationName", "devs"),), (("commonName", "alice"),))}


class StaticTokens:
    def __init__(self, tokens: dict[str, UserInfo], refuse: str = "") -> None:
        self.tokens = tokens
        self.refuse = refuse

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        if token == self.refuse:
            raise AuthenticationError("revoked")
        user = self.tokens.get(token)
        return TokenResult(user, tuple(audiences)) if user else None


def test_bearer_header_parsing():
    assert bearer_token(None) is None
    assert bearer_token("Basic dXNlcjpwYXNz") is None
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("  Bearer abc  ") == "abc"
    with pytest.raises(Unauthenticated):
        bearer_token("Bearer  x")  # an empty token, not a missing one


async def test_certificate_user_gets_groups_and_system_authenticated():
    user = await RequestAuthenticator().authenticate(CERT, "Bearer ignored")
    assert user == UserInfo("alice", ("devs", "system:authenticated"))


async def test_token_user_and_anonymous():
    chain = RequestAuthenticator([StaticTokens({"t1": UserInfo("bob")})], anonymous=True)
    assert await chain.authenticate(None, "Bearer t1") == UserInfo("bob", ("system:authenticated",))
    assert await chain.authenticate(None, None) == ANONYMOUS
    assert await RequestAuthenticator(anonymous=False).authenticate(None, None) is None


async def test_unknown_or_refused_token_is_never_anonymous():
    chain = RequestAuthenticator([StaticTokens({}, refuse="bad"), StaticTokens({})], anonymous=True)
    with pytest.raises(Unauthenticated, match="invalid bearer token"):
        await chain.authenticate(None, "Bearer unknown")
    with pytest.raises(Unauthenticated, match="revoked"):
        await chain.authenticate(None, "Bearer bad")


async def test_later_authenticator_may_accept_what_an_earlier_one_refused():
    chain = RequestAuthenticator([StaticTokens({}, refuse="t"), StaticTokens({"t": UserInfo("carol")})])
    assert (await chain.authenticate(None, "Bearer t")).name == "carol"


async def test_broken_authenticator_refuses_rather_than_crashes():
    class Broken:
        async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
            raise ConnectionError("etcd down")

    with pytest.raises(Unauthenticated):
        await RequestAuthenticator([Broken()]).authenticate(None, "Bearer t")


async def test_audience_agnostic_tokens_serve_only_the_api_audiences():
    wrapped = AudienceAgnostic(StaticTokens({"t": UserInfo("node")}), ["https://kubernetes.default.svc"])
    ok = await wrapped.authenticate_token("t", [])
    assert ok is not None and ok.audiences == ("https://kubernetes.default.svc",)
    assert await wrapped.authenticate_token("t", ["vault"]) is None
