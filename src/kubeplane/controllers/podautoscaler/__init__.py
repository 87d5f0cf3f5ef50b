"""The horizontal pod autoscaler (upstream ``pkg/controller/podautoscaler``)."""

from kubeplane.controllers.podautoscaler.controller import (
    DEFAULT_SYNC_PERIOD,
    HORIZONTALPODAUTOSCALERS,
    HorizontalPodAutoscalerController,
)

__all__ = ["DEFAULT_SYNC_PERIOD", "HORIZONTALPODAUTOSCALERS", "HorizontalPodAutoscalerController"]
