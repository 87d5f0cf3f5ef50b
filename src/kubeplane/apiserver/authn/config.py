"""Authentication flags (named as kube-apiserver's) and building the authenticators from them."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplane.apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator
from kubeplane.apiserver.authn.chain import AudienceAgnostic, RequestAuthenticator
from kubeplane.apiserver.authn.discovery import JWKS_PATH, IssuerDiscovery
from kubeplane.apiserver.authn.keys import VerifyingKey, load_private_key, load_public_keys, verifying_key
from kubeplane.apiserver.authn.serviceaccount import (
    DEFAULT_ISSUER,
    ServiceAccountTokenAuthenticator,
    TokenSigner,
)
from kubeplane.apiserver.authn.token_request import TokenIssuer
from kubeplane.apiserver.authn.types import ObjectReader, TokenAuthenticator
from kubeplane.apiserver.authn.webhook import (
    DEFAULT_CACHE_TTL,
    WebhookTokenAuthenticator,
    load_webhook_config,
)
from kubeplane.component.flags import parse_bool, parse_duration

log = logging.getLogger(__name__)

@dataclass
class AuthenticationOptions:
    anonymous_auth: bool = True
    service_account_issuer: list[str] = field(default_factory=list)
    service_account_key_file: list[str] = field(default_factory=list)
    service_account_signing_key_file: str = ""
    service_account_jwks_uri: str = ""
    service_account_extend_token_expiration: bool = True
    api_audiences: list[str] = field(default_factory=list)
    enable_bootstrap_token_auth: bool = False
    authentication_token_webhook_config_file: str = ""
    authentication_token_webhook_cache_ttl: float = DEFAULT_CACHE_TTL

    @staticmethod
    def add_flags(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("authentication")
        flag: dict[str, Any] = {"nargs": "?", "const": True, "type": parse_bool}
        group.add_argument("--anonymous-auth", default=True, **flag,
                           help="requests without credentials are system:anonymous (authorized by RBAC)")
        group.add_argument("--service-account-issuer", action="append", default=None,
                           help="token issuer; repeat to accept several (the first one signs)")
        group.add_argument("--service-account-key-file", action="append", default=None,
                           help="PEM file of keys that verify service-account tokens; repeat to rotate")
        group.add_argument("--service-account-signing-key-file", default="")
        group.add_argument("--service-account-jwks-uri", default="")
        group.add_argument("--service-account-extend-token-expiration", default=True, **flag)
        group.add_argument("--api-audiences", default="", help="comma-separated; default: the first issuer")
        group.add_argument("--enable-bootstrap-token-auth", default=False, **flag)
        group.add_argument("--authentication-token-webhook-config-file", default="")
        group.add_argument("--authentication-token-webhook-cache-ttl", type=parse_duration,
                           default=DEFAULT_CACHE_TTL)

    @classmethod
    def take(cls, values: dict[str, Any]) -> AuthenticationOptions:
        """Remove this group's values from parsed flags (``vars(namespace)``) and return them."""
        audiences = values.pop("api_audiences")
        return cls(
            anonymous_auth=values.pop("anonymous_auth"),
            service_account_issuer=values.pop("service_account_issuer") or [DEFAULT_ISSUER],
            service_account_key_file=values.pop("service_account_key_file") or [],
            service_account_signing_key_file=values.pop("service_account_signing_key_file"),
            service_account_jwks_uri=values.pop("service_account_jwks_uri"),
            service_account_extend_token_expiration=values.pop("service_account_extend_token_expiration"),
            api_audiences=[a.strip() for a in audiences.split(",") if a.strip()],
            enable_bootstrap_token_auth=values.pop("enable_bootstrap_token_auth"),
            authentication_token_webhook_config_file=values.pop("authentication_token_webhook_config_file"),
            authentication_token_webhook_cache_ttl=values.pop("authentication_token_webhook_cache_ttl"),
        )


@dataclass
class Authentication:
    """Everything the API server needs for authentication: the request authenticator, the TokenRequest
    issuer and the discovery documents (both None without a signing key)."""

    authenticator: RequestAuthenticator
    issuer: TokenIssuer | None = None
    discovery: IssuerDiscovery | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def certificates_only(cls, anonymous: bool) -> Authentication:
        return cls(RequestAuthenticator(anonymous=anonymous))

    async def close(self) -> None:
        for close in self.closers:
            await close()


def build_authentication(opts: AuthenticationOptions, objects: ObjectReader, minor: str,
                         external_address: str) -> Authentication:
    issuers = opts.service_account_issuer or [DEFAULT_ISSUER]
    audiences = opts.api_audiences or [issuers[0]]
    signer: TokenSigner | None = None
    keys: list[VerifyingKey] = []
    if opts.service_account_signing_key_file:
        private = load_private_key(Path(opts.service_account_signing_key_file))
        signer = TokenSigner(issuers[0], private)
        keys.append(verifying_key(private.public_key()))
    for path in opts.service_account_key_file:
        keys += [verifying_key(k) for k in load_public_keys(Path(path))]
    tokens: list[TokenAuthenticator] = []
    if keys:
        tokens.append(ServiceAccountTokenAuthenticator(issuers, keys, audiences, objects))
    if opts.enable_bootstrap_token_auth:
        tokens.append(AudienceAgnostic(BootstrapTokenAuthenticator(objects), audiences))
    closers: list[Callable[[], Awaitable[None]]] = []
    if opts.authentication_token_webhook_config_file:
        webhook = WebhookTokenAuthenticator(load_webhook_config(Path(opts.authentication_token_webhook_config_file)),
                                            audiences, opts.authentication_token_webhook_cache_ttl)
        tokens.append(webhook)
        closers.append(webhook.close)
    authenticator = RequestAuthenticator(tokens, opts.anonymous_auth, audiences)
    issuer = TokenIssuer(signer, audiences, objects, minor, opts.service_account_extend_token_expiration) \
        if signer else None
    discovery = None
    if keys and issuers[0].startswith("https://"):
        jwks_uri = opts.service_account_jwks_uri or f"https://{external_address}{JWKS_PATH}"
        discovery = IssuerDiscovery(issuers[0], jwks_uri, keys)
    log.info("authentication: x509%s%s%s%s, anonymous %s", ", service-account tokens" if keys else "",
             ", bootstrap tokens" if opts.enable_bootstrap_token_auth else "",
             ", token webhook" if opts.authentication_token_webhook_config_file else "",
             ", TokenRequest" if issuer else "", "on" if opts.anonymous_auth else "off")
    return Authentication(authenticator, issuer, discovery, closers)
