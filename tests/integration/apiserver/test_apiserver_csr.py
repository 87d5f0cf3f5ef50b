"""CertificateSigningRequests record who asked, from the request's credentials, never the body."""

import base64
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.integration


def test_the_requester_identity_is_set_by_the_server(apiserver: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone")])).sign(key, hashes.SHA256())
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "csr-"},
            "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                     "username": "forged", "groups": ["system:masters-forged"]}}
    status, created, _ = apiserver.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", body)
    assert status == 201, created
    _, review, _ = apiserver.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                     {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    me = review["status"]["userInfo"]
    assert created["spec"]["username"] == me["username"] != "forged"
    assert set(created["spec"]["groups"]) == set(me["groups"])
    assert "system:masters-forged" not in created["spec"]["groups"]
