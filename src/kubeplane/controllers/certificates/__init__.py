"""CertificateSigningRequest controllers (upstream ``pkg/controller/certificates``): the signer
for the kubernetes.io signers with the cluster CA, and the approver of kubelet client CSRs."""

from kubeplane.controllers.certificates.approving import CSRApprovingController
from kubeplane.controllers.certificates.csr import CERTIFICATESIGNINGREQUESTS
from kubeplane.controllers.certificates.signer import ClusterSigner
from kubeplane.controllers.certificates.signing import CSRSigningController, csr_signing_controller

__all__ = ["CERTIFICATESIGNINGREQUESTS", "CSRApprovingController", "CSRSigningController", "ClusterSigner",
           "csr_signing_controller"]
