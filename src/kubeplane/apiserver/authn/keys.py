"""Service-account signing and verifying keys: PEM loading, key ids, JWS algorithms and JWKs.

A key's id is upstream's: base64url (no padding) of the SHA-256 of its DER SubjectPublicKeyInfo,
so tokens and the JWKS document name keys the way every Kubernetes-aware verifier expects.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True)
class VerifyingKey:
    public_key: PublicKey
    kid: str
    algorithm: str


def key_id(public_key: PublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def algorithm_for(key: PublicKey | PrivateKey) -> str:
    """The JWS algorithm upstream signs with for this key type."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    algorithm = _EC_ALGORITHMS.get(key.curve.name)
    if algorithm is None:
        raise ValueError(f"unsupported elliptic curve {key.curve.name}")
    return algorithm


def verifying_key(public_key: PublicKey) -> VerifyingKey:
    return VerifyingKey(public_key, key_id(public_key), algorithm_for(public_key))


def _public_from_block(kind: bytes, block: bytes) -> PublicKey | None:
    loaded: Any
    if kind in (b"PUBLIC KEY", b"RSA PUBLIC KEY"):
        loaded = serialization.load_pem_public_key(block)
    elif kind.endswith(b"PRIVATE KEY"):
        loaded = serialization.load_pem_private_key(block, password=None).public_key()
    elif kind == b"CERTIFICATE":
        loaded = x509.load_pem_x509_certificate(block).public_key()
    else:
        return None  # e.g. "EC PARAMETERS" ahead of an EC key
    if not isinstance(loaded, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"unsupported key type {type(loaded).__name__}: want RSA or ECDSA")
    return loaded


def load_public_keys(path: Path) -> list[PublicKey]:
    """Every RSA/ECDSA public key in a PEM file (public keys, private keys or certificates)."""
    data = path.read_bytes()
    keys = [key for match in _PEM_BLOCK.finditer(data)
            if (key := _public_from_block(match.group(1), match.group(0))) is not None]
    if not keys:
        raise ValueError(f"{path}: no RSA or ECDSA key found")
    return keys


def load_private_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: want an RSA or ECDSA private key, got {type(key).__name__}")
    return key


def jwk(key: VerifyingKey) -> dict[str, Any]:
    """The key as upstream's JWKS lists it: use, kty, kid, alg and the key parameters."""
    params: dict[str, Any]
    if isinstance(key.public_key, rsa.RSAPublicKey):
        params = RSAAlgorithm.to_jwk(key.public_key, as_dict=True)
    else:
        params = ECAlgorithm.to_jwk(key.public_key, as_dict=True)
    params.pop("key_ops", None)
    return {"use": "sig", **params, "kid": key.kid, "alg": key.algorithm}
