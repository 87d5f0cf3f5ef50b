"""The StatefulSet controller: ordinal pods with stable names, hostnames and claims."""

from kubeplane.controllers.statefulset.controller import STATEFULSETS, StatefulSetController

__all__ = ["STATEFULSETS", "StatefulSetController"]
