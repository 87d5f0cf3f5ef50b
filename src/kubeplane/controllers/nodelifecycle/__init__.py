"""The node lifecycle controller (upstream ``pkg/controller/nodelifecycle``) and the taint-based
eviction it drives (upstream ``pkg/controller/tainteviction``)."""

from kubeplane.controllers.nodelifecycle.controller import NodeLifecycleController
from kubeplane.controllers.nodelifecycle.eviction import TaintEvictionController

__all__ = ["NodeLifecycleController", "TaintEvictionController"]
