"""Signing certificate requests with the cluster CA (upstream's ``authority`` and
``PermissiveSigningPolicy``): the subject, SANs and key come from the request, the key usages
from the CSR's spec.usages; validity is the signing duration (or spec.expirationSeconds when
shorter), backdated five minutes against clock skew, never beyond the CA's own expiry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

DEFAULT_DURATION = timedelta(days=365)  # --cluster-signing-duration 8760h
BACKDATE = timedelta(minutes=5)
SHORT = timedelta(hours=8)  # shorter certificates are not backdated at the end too

KEY_USAGES = {
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment", "cert sign": "key_cert_sign",
    "crl sign": "crl_sign", "encipher only": "encipher_only", "decipher only": "decipher_only",
}
EXT_KEY_USAGES = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION, "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}


class UnknownUsage(ValueError):
    pass


def _key_usage(usages: set[str]) -> x509.KeyUsage | None:
    flags = dict.fromkeys(set(KEY_USAGES.values()), False)
    for usage in usages:
        if usage in KEY_USAGES:
            flags[KEY_USAGES[usage]] = True
    if not any(flags.values()):
        return None
    return x509.KeyUsage(**flags)


def _ext_key_usage(usages: set[str]) -> x509.ExtendedKeyUsage | None:
    oids = [EXT_KEY_USAGES[u] for u in sorted(usages) if u in EXT_KEY_USAGES]
    return x509.ExtendedKeyUsage(oids) if oids else None


@dataclass
class ClusterSigner:
    """The cluster CA (--cluster-signing-cert-file/--cluster-signing-key-file)."""

    certificate: x509.Certificate
    key: Any
    duration: timedelta = DEFAULT_DURATION

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes, duration: timedelta = DEFAULT_DURATION) -> ClusterSigner:
        return cls(x509.load_pem_x509_certificate(cert_pem), serialization.load_pem_private_key(key_pem, None),
                   duration)

    def validity(self, expiration_seconds: int | None, now: datetime) -> tuple[datetime, datetime]:
        ttl = self.duration
        if expiration_seconds is not None:
            ttl = min(ttl, timedelta(seconds=int(expiration_seconds)))
        not_before = now - BACKDATE
        not_after = now + ttl if ttl < SHORT else not_before + ttl
        return not_before, min(not_after, self.certificate.not_valid_after_utc)

    def sign(self, request: x509.CertificateSigningRequest, usages: set[str], expiration_seconds: int | None,
             now: datetime) -> bytes:
        """The signed certificate, PEM-encoded."""
        unknown = sorted(u for u in usages if u not in KEY_USAGES and u not in EXT_KEY_USAGES)
        if unknown:
            raise UnknownUsage(f"unknown key usage: {unknown[0]}")
        not_before, not_after = self.validity(expiration_seconds, now)
        builder = (x509.CertificateBuilder()
                   .subject_name(request.subject)
                   .issuer_name(self.certificate.subject)
                   .public_key(request.public_key())
                   .serial_number(secrets.randbits(127) | 1)
                   .not_valid_before(not_before)
                   .not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        try:
            issuer_id = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_id), critical=False)
        except x509.ExtensionNotFound:
            pass
        key_usage = _key_usage(usages)
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        ext_key_usage = _ext_key_usage(usages)
        if ext_key_usage is not None:
            builder = builder.add_extension(ext_key_usage, critical=False)
        try:
            sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            builder = builder.add_extension(sans, critical=False)
        except x509.ExtensionNotFound:
            pass
        algorithm = None if isinstance(self.key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) \
            else hashes.SHA256()
        if not isinstance(self.key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
                          | ed448.Ed448PrivateKey):
            raise TypeError(f"unsupported CA key type {type(self.key).__name__}")
        certificate = builder.sign(self.key, algorithm)
        return certificate.public_bytes(serialization.Encoding.PEM)
