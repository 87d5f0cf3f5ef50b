"""The CSR signing controller (upstream ``certificatesigningrequest-signing-controller``): an
approved, not yet signed, not failed CSR for one of the kubernetes.io signers it serves gets
status.certificate from the cluster CA. A request breaking its signer's rules is marked Failed
("SignerValidationFailure") instead, as upstream does."""

from __future__ import annotations

import base64
import logging
from typing import Any

from kubeplane.client import NotFound
from kubeplane.controllers.certificates.csr import (
    CERTIFICATESIGNINGREQUESTS,
    KUBE_APISERVER_CLIENT,
    KUBE_APISERVER_CLIENT_KUBELET,
    KUBELET_SERVING,
    InvalidRequest,
    condition_true,
    has_certificate,
    is_approved,
    parse_request,
    usages,
    validate_for_signer,
)
from kubeplane.controllers.certificates.signer import ClusterSigner, UnknownUsage
from kubeplane.controllers.controller import ControllerContext, ResourceController
from kubeplane.controllers.timeutil import format_time

log = logging.getLogger(__name__)

JSON = dict[str, Any]

SIGNERS = (KUBELET_SERVING, KUBE_APISERVER_CLIENT_KUBELET, KUBE_APISERVER_CLIENT)


class CSRSigningController(ResourceController):
    name = "certificatesigningrequest-signing-controller"
    component = "csrsigning"

    def __init__(self, ctx: ControllerContext, signer: ClusterSigner) -> None:
        super().__init__(ctx)
        self.signer = signer
        self.csrs = self.informer(CERTIFICATESIGNINGREQUESTS, self.enqueue_handlers())

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or not is_approved(csr) or condition_true(csr, "Failed") or has_certificate(csr):
            return
        signer_name = (csr.get("spec") or {}).get("signerName", "")
        if signer_name not in SIGNERS:
            return
        try:
            request = parse_request(csr)
            validate_for_signer(signer_name, request, usages(csr))
            pem = self.signer.sign(request, usages(csr), (csr.get("spec") or {}).get("expirationSeconds"),
                                   self.clock.wall())
        except (InvalidRequest, UnknownUsage) as err:
            await self._fail(csr, str(err))
            return
        log.info("%s: signed %s for %s", self.name, key, signer_name)
        await self._write_status(csr, {**(csr.get("status") or {}), "certificate": base64.b64encode(pem).decode()})

    async def _fail(self, csr: JSON, message: str) -> None:
        stamp = format_time(self.clock.wall())
        failed = {"type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": message,
                  "lastUpdateTime": stamp, "lastTransitionTime": stamp}
        status = dict(csr.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []), failed]
        await self._write_status(csr, status)

    async def _write_status(self, csr: JSON, status: JSON) -> None:
        try:
            await self.client.update(CERTIFICATESIGNINGREQUESTS, {**csr, "status": status}, subresource="status")
        except NotFound:
            pass


def csr_signing_controller(ctx: ControllerContext) -> CSRSigningController | None:
    """The registry's constructor: skips itself (as upstream does) without a cluster signing CA.
    The CA comes from ``ctx.cluster_signing_cert``/``ctx.cluster_signing_key`` (PEM bytes, from
    --cluster-signing-cert-file/--cluster-signing-key-file)."""
    cert, key = ctx.cluster_signing_cert, ctx.cluster_signing_key
    if not cert or not key:
        log.warning("certificatesigningrequest-signing-controller: no --cluster-signing-cert-file/"
                    "--cluster-signing-key-file; not starting")
        return None
    return CSRSigningController(ctx, ClusterSigner.from_pem(cert, key))
