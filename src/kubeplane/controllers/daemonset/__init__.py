"""The DaemonSet controller: one pod on every node the template may run on."""

from kubeplane.controllers.daemonset.controller import DaemonSetController

__all__ = ["DaemonSetController"]
