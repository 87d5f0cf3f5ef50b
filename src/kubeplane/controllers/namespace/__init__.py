"""The namespace controller: empties a terminating namespace, then lets it go."""

from kubeplane.controllers.namespace.controller import NamespaceController

__all__ = ["NamespaceController"]
