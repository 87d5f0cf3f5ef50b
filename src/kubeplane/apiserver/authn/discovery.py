"""Service-account issuer discovery: the OpenID provider configuration and the JWKS, so relying
parties (IAM roles for service accounts, Vault ...) can verify tokens offline."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from kubeplane.apiserver.authn.keys import VerifyingKey, jwk

OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
JWKS_CONTENT_TYPE = "application/jwk-set+json"
# As upstream: relying parties may cache the documents for an hour.
CACHE_CONTROL = "public, max-age=3600"


class IssuerDiscovery:
    def __init__(self, issuer: str, jwks_uri: str, keys: Sequence[VerifyingKey]) -> None:
        algorithms = sorted({key.algorithm for key in keys})
        self.configuration = orjson.dumps({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algorithms,
        })
        # One entry per distinct key (the signing key is usually also listed as a verifying key).
        unique = {key.kid: key for key in keys}
        self.jwks = orjson.dumps({"keys": [jwk(key) for key in unique.values()]})

    def document(self, path: str) -> tuple[bytes, dict[str, str]] | None:
        """(body, headers) for a discovery path, None for any other path."""
        if path == OPENID_CONFIGURATION_PATH:
            return self.configuration, {"Content-Type": "application/json", "Cache-Control": CACHE_CONTROL}
        if path == JWKS_PATH:
            return self.jwks, {"Content-Type": JWKS_CONTENT_TYPE, "Cache-Control": CACHE_CONTROL}
        return None
