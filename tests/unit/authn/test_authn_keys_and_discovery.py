"""Key loading, key ids and the issuer discovery documents."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kubeplane.apiserver.authn.config import AuthenticationOptions, build_authentication, parse_duration
from kubeplane.apiserver.authn.discovery import IssuerDiscovery
from kubeplane.apiserver.authn.keys import load_public_keys, verifying_key
from kubeplane.component.pki import write_signing_key_pair


def _pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_key_file_with_several_keys(tmp_path, rsa_key, ec_key):
    path = tmp_path / "keys.pem"
    ec_private = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())
    path.write_bytes(_pem_public(rsa_key) + ec_private)
    keys = [verifying_key(k) for k in load_public_keys(path)]
    assert [k.algorithm for k in keys] == ["RS256", "ES256"]
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert keys[0].kid == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def test_jwks_verifies_a_token(rsa_key):
    key = verifying_key(rsa_key.public_key())
    discovery = IssuerDiscovery("https://issuer.example", "https://api.example/openid/v1/jwks", [key, key])
    body, headers = discovery.document("/openid/v1/jwks")
    assert headers["Content-Type"] == "application/jwk-set+json"
    jwks = json.loads(body)
    assert len(jwks["keys"]) == 1 and jwks["keys"][0]["kid"] == key.kid and jwks["keys"][0]["use"] == "sig"
    token = jwt.encode({"sub": "x"}, rsa_key, algorithm="RS256", headers={"kid": key.kid})
    public = jwt.PyJWK(jwks["keys"][0]).key
    assert jwt.decode(token, public, algorithms=["RS256"])["sub"] == "x"
    config = json.loads(discovery.document("/.well-known/openid-configuration")[0])
    assert config == {"issuer": "https://issuer.example", "jwks_uri": "https://api.example/openid/v1/jwks",
                      "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                      "id_token_signing_alg_values_supported": ["RS256"]}
    assert discovery.document("/openid/v1/other") is None


def test_build_from_the_cluster_pki_key_pair(tmp_path, objects):
    write_signing_key_pair(tmp_path / "sa.key", tmp_path / "sa.pub")
    opts = AuthenticationOptions(service_account_issuer=["https://kubernetes.default.svc"],
                                 service_account_signing_key_file=str(tmp_path / "sa.key"),
                                 service_account_key_file=[str(tmp_path / "sa.pub")])
    built = build_authentication(opts, objects, "1.33", "127.0.0.1:6443")
    assert built.issuer is not None and built.discovery is not None
    config = json.loads(built.discovery.document("/.well-known/openid-configuration")[0])
    assert config["jwks_uri"] == "https://127.0.0.1:6443/openid/v1/jwks"
    assert len(json.loads(built.discovery.jwks)["keys"]) == 1
    assert built.authenticator.api_audiences == ("https://kubernetes.default.svc",)
    assert build_authentication(AuthenticationOptions(), objects, "1.33", "x").issuer is None


@pytest.mark.parametrize(("text", "seconds"), [("2m", 120), ("1m30s", 90), ("500ms", 0.5), ("10", 10), ("1h", 3600)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == seconds
