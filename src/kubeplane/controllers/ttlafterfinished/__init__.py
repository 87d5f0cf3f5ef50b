"""The TTL-after-finished controller (upstream ``pkg/controller/ttlafterfinished``)."""

from kubeplane.controllers.ttlafterfinished.controller import TTLAfterFinishedController

__all__ = ["TTLAfterFinishedController"]
