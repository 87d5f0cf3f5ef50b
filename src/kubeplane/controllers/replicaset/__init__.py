"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching the selector alive; the same
controller over v1 ReplicationControllers is upstream's ReplicationManager."""

from kubeplane.controllers.replicaset.controller import ReplicaSetController, ReplicationManager

__all__ = ["ReplicaSetController", "ReplicationManager"]
