"""The StatefulSet controller: ordinal pods with stable names, hostnames and claims."""

from kubeplane.controllers.statefulset.controller import StatefulSetController

__all__ = ["StatefulSetController"]
