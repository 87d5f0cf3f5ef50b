"""The disruption controller: PodDisruptionBudget status (upstream ``pkg/controller/disruption``)."""

from kubeplane.controllers.disruption.controller import PODDISRUPTIONBUDGETS, DisruptionController

__all__ = ["PODDISRUPTIONBUDGETS", "DisruptionController"]
