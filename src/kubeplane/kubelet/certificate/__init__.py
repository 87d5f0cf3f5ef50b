"""The kubelet's client certificate: TLS bootstrap from a bootstrap token, the certificate
directory, and rotation (upstream ``pkg/kubelet/certificate`` and client-go's
``util/certificate``)."""

from kubeplane.kubelet.certificate.bootstrap import load_client_cert
from kubeplane.kubelet.certificate.csr import CSRDeniedError, request_node_certificate
from kubeplane.kubelet.certificate.manager import CertificateManager, rotation_deadline
from kubeplane.kubelet.certificate.store import CertificateStore, RotatingClientConfig

__all__ = ["CSRDeniedError", "CertificateManager", "CertificateStore", "RotatingClientConfig",
           "load_client_cert", "request_node_certificate", "rotation_deadline"]
