"""The CSR approving controller (upstream ``certificatesigningrequest-approving-controller``,
``sarapprove.go``): a kubelet client CSR (signer kube-apiserver-client-kubelet, subject
O=system:nodes, CN=system:node:<name>, client usages, no SANs) is approved when its requester
may create ``certificatesigningrequests/selfnodeclient`` (renewing its own identity) or
``certificatesigningrequests/nodeclient`` (a bootstrap identity asking for a node's), as a
SubjectAccessReview for the requester says. Anything else is left for a human."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from kubeplane.client import NotFound, Resource
from kubeplane.controllers.certificates.csr import (
    CERTIFICATESIGNINGREQUESTS,
    KUBE_APISERVER_CLIENT_KUBELET,
    InvalidRequest,
    common_name,
    has_certificate,
    is_decided,
    parse_request,
    usages,
    validate_kubelet_client,
)
from kubeplane.controllers.controller import ControllerContext, ResourceController
from kubeplane.controllers.timeutil import format_time

log = logging.getLogger(__name__)

JSON = dict[str, Any]

SUBJECTACCESSREVIEWS = Resource("authorization.k8s.io", "v1", "subjectaccessreviews", namespaced=False,
                                kind="SubjectAccessReview")


def is_node_client(csr: JSON, request: x509.CertificateSigningRequest) -> bool:
    if (csr.get("spec") or {}).get("signerName") != KUBE_APISERVER_CLIENT_KUBELET:
        return False
    try:
        validate_kubelet_client(request, usages(csr))
    except InvalidRequest:
        return False
    return True


def is_self_node_client(csr: JSON, request: x509.CertificateSigningRequest) -> bool:
    return is_node_client(csr, request) and (csr.get("spec") or {}).get("username") == common_name(request)


@dataclass(frozen=True)
class Recognizer:
    recognizes: Any  # (csr, request) -> bool
    subresource: str
    message: str


RECOGNIZERS = (
    Recognizer(is_self_node_client, "selfnodeclient",
               "Auto approving self kubelet client certificate after SubjectAccessReview."),
    Recognizer(is_node_client, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."),
)


class CSRApprovingController(ResourceController):
    name = "certificatesigningrequest-approving-controller"
    component = "csrapproving"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.csrs = self.informer(CERTIFICATESIGNINGREQUESTS, self.enqueue_handlers())

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or has_certificate(csr) or is_decided(csr):
            return
        try:
            request = parse_request(csr)
        except InvalidRequest:
            return  # not ours to judge: the signer marks unparsable requests
        tried = []
        for recognizer in RECOGNIZERS:
            if not recognizer.recognizes(csr, request):
                continue
            tried.append(recognizer.subresource)
            if await self._allowed(csr, recognizer.subresource):
                await self._approve(csr, recognizer.message)
                return
        if tried:
            log.info("%s: recognized csr %s as %s but subject access review was not approved", self.name, key, tried)

    async def _allowed(self, csr: JSON, subresource: str) -> bool:
        spec = csr.get("spec") or {}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": spec.get("username", ""), "uid": spec.get("uid", ""), "groups": spec.get("groups") or [],
            "extra": spec.get("extra") or {},
            "resourceAttributes": {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                                   "verb": "create", "subresource": subresource, "version": "*"}}}
        result = await self.client.create(SUBJECTACCESSREVIEWS, review)
        return bool((result.get("status") or {}).get("allowed"))

    async def _approve(self, csr: JSON, message: str) -> None:
        stamp = format_time(self.clock.wall())
        approved = {"type": "Approved", "status": "True", "reason": "AutoApproved", "message": message,
                    "lastUpdateTime": stamp, "lastTransitionTime": stamp}
        status = dict(csr.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []), approved]
        try:
            await self.client.update(CERTIFICATESIGNINGREQUESTS, {**csr, "status": status}, subresource="approval")
        except NotFound:
            pass
        log.info("%s: approved %s", self.name, csr["metadata"]["name"])
