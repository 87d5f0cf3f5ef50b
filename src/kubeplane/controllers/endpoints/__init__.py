"""The Endpoints controller: one Endpoints object per Service with a selector, listing the
addresses of the pods it selects."""

from kubeplane.controllers.endpoints.controller import EndpointsController

__all__ = ["EndpointsController"]
