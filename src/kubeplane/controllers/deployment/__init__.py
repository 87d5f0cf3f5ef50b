"""The Deployment controller: rolls a pod template out through ReplicaSets, one per template."""

from kubeplane.controllers.deployment.controller import DeploymentController

__all__ = ["DeploymentController"]
