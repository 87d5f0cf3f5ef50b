"""Fakes for authentication unit tests: an in-memory object reader and key pairs."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

JSON = dict[str, Any]


class FakeObjects:
    """ObjectReader over a dict keyed by (resource, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], JSON] = {}
        self.reads = 0

    def add(self, resource: str, namespace: str, name: str, uid: str, **fields: Any) -> JSON:
        meta: JSON = {"name": name, "uid": uid}
        if namespace:
            meta["namespace"] = namespace
        obj: JSON = {"metadata": meta, **fields}
        self.objects[(resource, namespace, name)] = obj
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> None:
        del self.objects[(resource, namespace, name)]

    async def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        self.reads += 1
        return self.objects.get((resource, namespace, name))


@pytest.fixture
def objects() -> FakeObjects:
    return FakeObjects()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
