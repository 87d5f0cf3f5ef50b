"""The cluster PKI: certificates chain to the CA and carry the names and usages clients check."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeplane.component import pki


@pytest.fixture(scope="module")
def ca() -> pki.CertifiedKey:
    return pki.create_ca()


def _verify_chain(leaf: x509.Certificate, ca: x509.Certificate) -> None:
    # Raises if the signature, issuer or validity do not match the CA.
    leaf.verify_directly_issued_by(ca)


def test_ca_is_a_self_signed_ca_for_ten_years(ca: pki.CertifiedKey) -> None:
    ca.cert.verify_directly_issued_by(ca.cert)
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    lifetime = ca.cert.not_valid_after_utc - ca.cert.not_valid_before_utc
    assert lifetime.days >= 3650


def test_apiserver_cert_chains_to_ca_and_has_every_san(ca: pki.CertifiedKey) -> None:
    leaf = pki.issue_apiserver_cert(ca, "198.19.0.0/16")
    _verify_chain(leaf.cert, ca.cert)
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    }
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("198.19.0.1"),
    }
    usages = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_admin_client_cert_names_user_and_group(ca: pki.CertifiedKey) -> None:
    leaf = pki.issue_client_cert(ca, pki.ADMIN_COMMON_NAME, [pki.ADMIN_ORGANIZATION])
    _verify_chain(leaf.cert, ca.cert)
    subject = leaf.cert.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["kubernetes-admin"]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]
    usages = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_cert_from_another_ca_does_not_chain(ca: pki.CertifiedKey) -> None:
    stranger = pki.issue_client_cert(pki.create_ca("other"), "someone")
    with pytest.raises((ValueError, TypeError)):
        _verify_chain(stranger.cert, ca.cert)


def test_first_service_ip() -> None:
    assert str(pki.first_service_ip("198.19.0.0/16")) == "198.19.0.1"
    assert str(pki.first_service_ip("10.96.0.0/12")) == "10.96.0.1"


def test_cluster_pki_files_round_trip_with_private_keys_0600(tmp_path: Path) -> None:
    files = pki.create_cluster_pki(tmp_path / "pki", "198.19.0.0/16")
    for key in (files.ca_key, files.apiserver_key, files.admin_key, files.sa_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    ca = pki.read_certified_key(files.ca_cert, files.ca_key)
    for cert, key in ((files.apiserver_cert, files.apiserver_key), (files.admin_cert, files.admin_key)):
        leaf = pki.read_certified_key(cert, key)
        _verify_chain(leaf.cert, ca.cert)
        assert leaf.key.public_key().public_numbers() == leaf.cert.public_key().public_numbers()
    assert files.sa_pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
