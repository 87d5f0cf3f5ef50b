"""CertificateSigningRequest facts both controllers use: the decoded request, its approval
state, and upstream's rules for kubelet CSRs (``pkg/apis/certificates/helpers.go``)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubeplane.client import Resource

JSON = dict[str, Any]

CERTIFICATESIGNINGREQUESTS = Resource("certificates.k8s.io", "v1", "certificatesigningrequests", namespaced=False,
                                      kind="CertificateSigningRequest")

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"}, {"digital signature", "client auth"})
KUBELET_SERVING_USAGES = ({"digital signature", "key encipherment", "server auth"}, {"digital signature", "server auth"})


class InvalidRequest(ValueError):
    """The request does not meet its signer's rules (the message is upstream's)."""


def condition_true(csr: JSON, condition_type: str) -> bool:
    return any(c.get("type") == condition_type and c.get("status", "True") == "True"
               for c in (csr.get("status") or {}).get("conditions") or ())


def is_approved(csr: JSON) -> bool:
    return condition_true(csr, "Approved") and not condition_true(csr, "Denied")


def is_decided(csr: JSON) -> bool:
    return condition_true(csr, "Approved") or condition_true(csr, "Denied")


def has_certificate(csr: JSON) -> bool:
    return bool((csr.get("status") or {}).get("certificate"))


def parse_request(csr: JSON) -> x509.CertificateSigningRequest:
    """spec.request: base64 of a PEM "CERTIFICATE REQUEST" block."""
    try:
        pem = base64.b64decode((csr.get("spec") or {}).get("request") or "")
        return x509.load_pem_x509_csr(pem)
    except ValueError as err:
        raise InvalidRequest(f"PEM block type must be CERTIFICATE REQUEST: {err}") from err


def usages(csr: JSON) -> set[str]:
    return set((csr.get("spec") or {}).get("usages") or ())


def _organizations(request: x509.CertificateSigningRequest) -> list[str]:
    return [str(a.value) for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def common_name(request: x509.CertificateSigningRequest) -> str:
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _sans(request: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _san_count(request: x509.CertificateSigningRequest, kind: type[x509.GeneralName]) -> int:
    sans = _sans(request)
    return sum(1 for name in sans if isinstance(name, kind)) if sans is not None else 0


def validate_kubelet_client(request: x509.CertificateSigningRequest, wanted: set[str]) -> None:
    if _organizations(request) != [NODES_GROUP]:
        raise InvalidRequest("subject organization is not system:nodes")
    if _san_count(request, x509.DNSName):
        raise InvalidRequest("DNS subjectAltNames are not allowed")
    if _san_count(request, x509.RFC822Name):
        raise InvalidRequest("Email subjectAltNames are not allowed")
    if _san_count(request, x509.IPAddress):
        raise InvalidRequest("IP subjectAltNames are not allowed")
    if _san_count(request, x509.UniformResourceIdentifier):
        raise InvalidRequest("URI subjectAltNames are not allowed")
    if not common_name(request).startswith(NODE_PREFIX):
        raise InvalidRequest("subject common name does not begin with system:node:")
    if wanted not in KUBELET_CLIENT_USAGES:
        raise InvalidRequest("usages did not match [client auth digital signature key encipherment]")


def validate_kubelet_serving(request: x509.CertificateSigningRequest, wanted: set[str]) -> None:
    if _organizations(request) != [NODES_GROUP]:
        raise InvalidRequest("subject organization is not system:nodes")
    if not _san_count(request, x509.DNSName) and not _san_count(request, x509.IPAddress):
        raise InvalidRequest("DNS or IP subjectAltName is required")
    if _san_count(request, x509.RFC822Name):
        raise InvalidRequest("Email subjectAltNames are not allowed")
    if _san_count(request, x509.UniformResourceIdentifier):
        raise InvalidRequest("URI subjectAltNames are not allowed")
    if wanted not in KUBELET_SERVING_USAGES:
        raise InvalidRequest("usages did not match [digital signature key encipherment server auth]")
    if not common_name(request).startswith(NODE_PREFIX):
        raise InvalidRequest("subject common name does not begin with system:node:")


def validate_apiserver_client(wanted: set[str]) -> None:
    for usage in sorted(wanted):
        if usage not in ("digital signature", "key encipherment", "client auth"):
            raise InvalidRequest(f"invalid usage for client certificate: {usage}")
    if "client auth" not in wanted:
        raise InvalidRequest("missing required usage for client certificate: client auth")


def validate_for_signer(signer_name: str, request: x509.CertificateSigningRequest, wanted: set[str]) -> bool:
    """Whether this signer is one we sign for (raises InvalidRequest when the request breaks its rules)."""
    if signer_name == KUBELET_SERVING:
        validate_kubelet_serving(request, wanted)
    elif signer_name == KUBE_APISERVER_CLIENT_KUBELET:
        validate_kubelet_client(request, wanted)
    elif signer_name == KUBE_APISERVER_CLIENT:
        validate_apiserver_client(wanted)
    else:
        return False
    return True
