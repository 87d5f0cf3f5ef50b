"""CSR signing and approving: approved requests for the kubernetes.io signers are signed by the
cluster CA with the requested usages and validity; requests breaking their signer's rules are
marked Failed; kubelet client CSRs are auto-approved only when a SubjectAccessReview for the
requester allows nodeclient/selfnodeclient."""

from __future__ import annotations

import base64
import ipaddress
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeplane.component.pki import cert_pem, create_ca, key_pem
from kubeplane.controllers.certificates import (
    CERTIFICATESIGNINGREQUESTS,
    ClusterSigner,
    CSRApprovingController,
    CSRSigningController,
    csr_signing_controller,
)
from kubeplane.controllers.certificates.approving import SUBJECTACCESSREVIEWS

JSON = dict[str, Any]

CLIENT_USAGES = ["digital signature", "client auth"]


def request_pem(cn: str, orgs: tuple[str, ...] = ("system:nodes",), ips: tuple[str, ...] = (),
                dns: tuple[str, ...] = ()) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(pem).decode()


def csr(name: str, request: str, signer: str, usages: list[str], approved: bool = True, **spec: Any) -> JSON:
    conditions = [{"type": "Approved", "status": "True", "reason": "Test"}] if approved else []
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": request, "signerName": signer, "usages": usages, **spec},
            "status": {"conditions": conditions}}


@pytest.fixture
def ca() -> Any:
    return create_ca("test-ca")


@pytest.fixture
def signing(ctx: Any, ca: Any) -> CSRSigningController:
    return CSRSigningController(ctx, ClusterSigner(ca.cert, ca.key))


def issued(api: Any, name: str) -> x509.Certificate | None:
    stored = next(c for c in api.all(CERTIFICATESIGNINGREQUESTS) if c["metadata"]["name"] == name)
    encoded = (stored.get("status") or {}).get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(encoded)) if encoded else None


def failure(api: Any, name: str) -> str | None:
    stored = next(c for c in api.all(CERTIFICATESIGNINGREQUESTS) if c["metadata"]["name"] == name)
    failed = [c for c in stored["status"].get("conditions") or () if c["type"] == "Failed"]
    return failed[0]["message"] if failed else None


async def test_an_approved_kubelet_client_csr_is_signed_by_the_ca(api: Any, ctx: Any, clock: Any, ca: Any,
                                                                  signing: CSRSigningController) -> None:
    api.put(CERTIFICATESIGNINGREQUESTS, csr("k", request_pem("system:node:n1"),
                                            "kubernetes.io/kube-apiserver-client-kubelet", CLIENT_USAGES,
                                            expirationSeconds=3600))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    await signing.sync("k")
    cert = issued(api, "k")
    assert cert is not None
    cert.verify_directly_issued_by(ca.cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    now = clock.wall()
    assert cert.not_valid_before_utc == (now - timedelta(minutes=5)).replace(microsecond=0)
    assert cert.not_valid_after_utc == (now + timedelta(hours=1)).replace(microsecond=0)


async def test_kubelet_serving_keeps_its_sans_and_is_backdated(api: Any, ctx: Any, clock: Any,
                                                               signing: CSRSigningController) -> None:
    api.put(CERTIFICATESIGNINGREQUESTS, csr("s", request_pem("system:node:n1", ips=("198.18.0.5",), dns=("n1",)),
                                            "kubernetes.io/kubelet-serving", ["digital signature", "server auth"]))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    await signing.sync("s")
    cert = issued(api, "s")
    assert cert is not None
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["n1"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)


@pytest.mark.parametrize("signer, request_args, usages, message", [
    ("kubernetes.io/kube-apiserver-client-kubelet", ("system:node:n1", ("other",)), CLIENT_USAGES,
     "subject organization is not system:nodes"),
    ("kubernetes.io/kube-apiserver-client-kubelet", ("n1",), CLIENT_USAGES,
     "subject common name does not begin with system:node:"),
    ("kubernetes.io/kubelet-serving", ("system:node:n1",), ["digital signature", "server auth"],
     "DNS or IP subjectAltName is required"),
    ("kubernetes.io/kube-apiserver-client", ("alice", ()), ["digital signature"],
     "missing required usage for client certificate: client auth"),
])
async def test_requests_breaking_the_signers_rules_fail(api: Any, ctx: Any, signing: CSRSigningController,
                                                        signer: str, request_args: tuple[Any, ...], usages: list[str],
                                                        message: str) -> None:
    api.put(CERTIFICATESIGNINGREQUESTS, csr("bad", request_pem(*request_args), signer, usages))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    await signing.sync("bad")
    assert issued(api, "bad") is None and failure(api, "bad") == message


async def test_unapproved_or_foreign_signer_requests_are_left_alone(api: Any, ctx: Any,
                                                                    signing: CSRSigningController) -> None:
    api.put(CERTIFICATESIGNINGREQUESTS, csr("pending", request_pem("system:node:n1"),
                                            "kubernetes.io/kube-apiserver-client-kubelet", CLIENT_USAGES,
                                            approved=False))
    api.put(CERTIFICATESIGNINGREQUESTS, csr("foreign", request_pem("x"), "example.com/signer", CLIENT_USAGES))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    await signing.sync("pending")
    await signing.sync("foreign")
    assert api.writes == []


async def test_the_signer_skips_itself_without_a_ca(ctx: Any, ca: Any) -> None:
    assert csr_signing_controller(ctx) is None
    ctx.cluster_signing_cert, ctx.cluster_signing_key = cert_pem(ca.cert), key_pem(ca.key)
    assert isinstance(csr_signing_controller(ctx), CSRSigningController)


def allow_reviews(api: Any, allowed: set[tuple[str, str]]) -> list[JSON]:
    """Answer SubjectAccessReviews: (user, subresource) pairs in ``allowed`` may."""
    reviews: list[JSON] = []
    original = api.create

    async def create(resource: Any, body: JSON, namespace: Any = None, **kwargs: Any) -> JSON:
        if resource != SUBJECTACCESSREVIEWS:
            result: JSON = await original(resource, body, namespace, **kwargs)
            return result
        reviews.append(body)
        spec = body["spec"]
        return {**body, "status": {"allowed": (spec["user"], spec["resourceAttributes"]["subresource"]) in allowed}}

    api.create = create
    update = api.update

    async def update_approval(resource: Any, body: JSON, namespace: Any = None, subresource: Any = None,
                              **kwargs: Any) -> JSON:
        # The fake knows /status only; /approval writes status conditions the same way.
        result: JSON = await update(resource, body, namespace,
                                    subresource="status" if subresource == "approval" else subresource, **kwargs)
        return result

    api.update = update_approval
    return reviews


def approval(api: Any, name: str) -> JSON | None:
    stored = next(c for c in api.all(CERTIFICATESIGNINGREQUESTS) if c["metadata"]["name"] == name)
    return next((c for c in stored["status"].get("conditions") or () if c["type"] == "Approved"), None)


async def test_a_node_renewing_its_own_client_certificate_is_approved(api: Any, ctx: Any) -> None:
    reviews = allow_reviews(api, {("system:node:n1", "selfnodeclient")})
    controller = CSRApprovingController(ctx)
    api.put(CERTIFICATESIGNINGREQUESTS, csr("renew", request_pem("system:node:n1"),
                                            "kubernetes.io/kube-apiserver-client-kubelet", CLIENT_USAGES,
                                            approved=False, username="system:node:n1", groups=["system:nodes"]))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    await controller.sync("renew")
    condition = approval(api, "renew")
    assert condition is not None and condition["reason"] == "AutoApproved"
    assert condition["message"] == "Auto approving self kubelet client certificate after SubjectAccessReview."
    assert reviews[0]["spec"]["groups"] == ["system:nodes"]


async def test_a_bootstrap_user_is_approved_only_with_nodeclient(api: Any, ctx: Any) -> None:
    allow_reviews(api, {("system:bootstrap:abcdef", "nodeclient")})
    controller = CSRApprovingController(ctx)
    for name, user in (("boot", "system:bootstrap:abcdef"), ("stranger", "mallory")):
        api.put(CERTIFICATESIGNINGREQUESTS, csr(name, request_pem("system:node:n2"),
                                                "kubernetes.io/kube-apiserver-client-kubelet", CLIENT_USAGES,
                                                approved=False, username=user))
    api.put(CERTIFICATESIGNINGREQUESTS, csr("serving", request_pem("system:node:n2", dns=("n2",)),
                                            "kubernetes.io/kubelet-serving", ["digital signature", "server auth"],
                                            approved=False, username="system:bootstrap:abcdef"))
    api.feed(ctx.informers, CERTIFICATESIGNINGREQUESTS)
    for name in ("boot", "stranger", "serving"):
        await controller.sync(name)
    boot = approval(api, "boot")
    assert boot is not None and boot["message"] == "Auto approving kubelet client certificate after SubjectAccessReview."
    assert approval(api, "stranger") is None and approval(api, "serving") is None
