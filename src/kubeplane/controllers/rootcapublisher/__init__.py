"""The root CA publisher: the ``kube-root-ca.crt`` ConfigMap in every namespace."""

from kubeplane.controllers.rootcapublisher.controller import ROOT_CA_CONFIGMAP, RootCAPublisher

__all__ = ["ROOT_CA_CONFIGMAP", "RootCAPublisher"]
