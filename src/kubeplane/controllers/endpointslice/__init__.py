"""The EndpointSlice controller: a Service's endpoints as slices of at most 100, per address
family and port set, kept up to date with as few writes as it can."""

from kubeplane.controllers.endpointslice.controller import EndpointSliceController

__all__ = ["EndpointSliceController"]
