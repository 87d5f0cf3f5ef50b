"""The cluster's public-key infrastructure: one CA, the certificates it signs, and PEM files.

Everything a cluster trusts chains to a single self-signed CA (ECDSA P-256, ten years), as
kubeadm lays it out: the API server's serving certificate, the admin client certificate whose
organisation ``system:masters`` grants cluster-admin, and the service-account signing key pair.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
# Tolerates small clock differences between the machine that signs and the one that verifies.
_BACKDATE = datetime.timedelta(minutes=5)

# Names every in-cluster client may use to reach the API server (kubeadm's list).
APISERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

# The identities upstream's default RBAC policy binds for the control-plane components.
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
APISERVER_KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
ADMIN_COMMON_NAME = "kubernetes-admin"
ADMIN_ORGANIZATION = "system:masters"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate together with the private key it certifies."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             validity: datetime.timedelta) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def create_ca(common_name: str = "kubeplane-ca") -> CertifiedKey:
    """A new self-signed CA, allowed to sign certificates but not to be a leaf."""
    key = _new_key()
    subject = _name(common_name)
    cert = (
        _builder(subject, subject, key.public_key(), CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(cert, key)


def _issue_leaf(ca: CertifiedKey, subject: x509.Name, usage: x509.ObjectIdentifier,
                san: x509.SubjectAlternativeName | None) -> CertifiedKey:
    key = _new_key()
    builder = (
        _builder(subject, ca.cert.subject, key.public_key(), LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False, crl_sign=False,
                          content_commitment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return CertifiedKey(builder.sign(ca.key, hashes.SHA256()), key)


def issue_serving_cert(ca: CertifiedKey, common_name: str, dns_names: Sequence[str],
                       ip_addresses: Sequence[str | IPAddress]) -> CertifiedKey:
    """A TLS server certificate valid for the given DNS names and IP addresses."""
    san = x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in dns_names]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    )
    return _issue_leaf(ca, _name(common_name), ExtendedKeyUsageOID.SERVER_AUTH, san)


def issue_client_cert(ca: CertifiedKey, common_name: str, organizations: Sequence[str] = ()) -> CertifiedKey:
    """A TLS client certificate; Kubernetes reads the user from CN and the groups from O."""
    return _issue_leaf(ca, _name(common_name, organizations), ExtendedKeyUsageOID.CLIENT_AUTH, None)


def first_service_ip(service_cidr: str) -> IPAddress:
    """The ClusterIP of the ``kubernetes`` Service: the first host address of the range."""
    network = ipaddress.ip_network(service_cidr)
    return network.network_address + 1


def issue_apiserver_cert(ca: CertifiedKey, service_cidr: str,
                         extra_ips: Sequence[str] = ()) -> CertifiedKey:
    """The API server's serving certificate with every name in-cluster and local clients use."""
    ips: list[str | IPAddress] = ["127.0.0.1", first_service_ip(service_cidr), *extra_ips]
    return issue_serving_cert(ca, "kube-apiserver", APISERVER_DNS_NAMES, ips)


# -- PEM files -------------------------------------------------------------------------------


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with the final mode from the start, so a key is never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed the mode given to open
    os.replace(tmp, path)


def write_certified_key(pair: CertifiedKey, cert_path: Path, key_path: Path) -> None:
    _write(cert_path, cert_pem(pair.cert), 0o644)
    _write(key_path, key_pem(pair.key), 0o600)


def read_certified_key(cert_path: Path, key_path: Path) -> CertifiedKey:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: expected an ECDSA private key")
    return CertifiedKey(cert, key)


def write_signing_key_pair(key_path: Path, pub_path: Path) -> None:
    """A fresh key pair for signing service-account tokens (sa.key / sa.pub)."""
    key = _new_key()
    _write(key_path, key_pem(key), 0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    _write(pub_path, pub, 0o644)


# -- the cluster's PKI directory ---------------------------------------------------------------


@dataclass(frozen=True)
class ClusterPKI:
    """Where one cluster's PKI files live (kubeadm's file names)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def apiserver_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    def component_cert(self, component: str) -> Path:
        return self.directory / f"{component}.crt"

    def component_key(self, component: str) -> Path:
        return self.directory / f"{component}.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"


def create_cluster_pki(directory: Path, service_cidr: str) -> ClusterPKI:
    """Create the CA, the API server and admin certificates and the SA key pair under directory."""
    pki = ClusterPKI(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca = create_ca()
    write_certified_key(ca, pki.ca_cert, pki.ca_key)
    write_certified_key(issue_apiserver_cert(ca, service_cidr), pki.apiserver_cert, pki.apiserver_key)
    write_certified_key(issue_client_cert(ca, ADMIN_COMMON_NAME, [ADMIN_ORGANIZATION]),
                        pki.admin_cert, pki.admin_key)
    # The controller manager is system:kube-controller-manager (not in system:masters): it reads
    # through its shared informers and asks for tokens; each controller writes with its own
    # kube-system service account's token (--use-service-account-credentials).
    # The API server's identity towards kubelets (logs, exec, port-forward), as kubeadm's
    # apiserver-kubelet-client certificate: the kubelets' SubjectAccessReviews allow it.
    identities: tuple[tuple[str, str, list[str]], ...] = (
        ("controller-manager", CONTROLLER_MANAGER_USER, []),
        ("scheduler", SCHEDULER_USER, []),
        ("apiserver-kubelet-client", APISERVER_KUBELET_CLIENT_USER, [ADMIN_ORGANIZATION]))
    for component, user, groups in identities:
        write_certified_key(issue_client_cert(ca, user, groups), pki.component_cert(component),
                            pki.component_key(component))
    write_signing_key_pair(pki.sa_key, pki.sa_pub)
    return pki
