"""Admission control: upstream's ordered chain of mutating then validating plugins, and webhooks."""

from kubeplane.apiserver.admission.attributes import Attributes, User
from kubeplane.apiserver.admission.chain import (
    DEFAULT_ON,
    ORDER,
    AdmissionChain,
    AdmissionConfig,
    AdmissionConfigError,
    build_chain,
    enabled_plugins,
)
from kubeplane.apiserver.admission.objects import ClusterObjects

__all__ = ["DEFAULT_ON", "ORDER", "AdmissionChain", "AdmissionConfig", "AdmissionConfigError", "Attributes",
           "ClusterObjects", "User", "build_chain", "enabled_plugins"]
