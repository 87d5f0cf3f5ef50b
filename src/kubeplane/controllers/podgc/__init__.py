"""The pod garbage collector (upstream ``pkg/controller/podgc``)."""

from kubeplane.controllers.podgc.controller import PodGCController

__all__ = ["PodGCController"]
