"""Bootstrap-token controllers (upstream ``pkg/controller/bootstrap``), both off by default as
upstream; kubeadm and EKS turn them on: the signer keeps kube-public/cluster-info signed with each
signing token, the cleaner deletes expired tokens."""

from kubeplane.controllers.bootstrap.cleaner import TokenCleanerController
from kubeplane.controllers.bootstrap.signer import BootstrapSignerController, detached_signature

__all__ = ["BootstrapSignerController", "TokenCleanerController", "detached_signature"]
