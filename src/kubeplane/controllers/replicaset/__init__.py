"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching the selector alive."""

from kubeplane.controllers.replicaset.controller import ReplicaSetController

__all__ = ["ReplicaSetController"]
