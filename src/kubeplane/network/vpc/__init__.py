"""A simulated AWS VPC in network namespaces: ``model`` (data and address allocation), ``store``
(persistent JSON state), ``fabric`` (the kernel side, through pyroute2), ``service`` (operations)."""

from kubeplane.network.vpc.model import (
    DEFAULT_CIDR,
    DEFAULT_REGION,
    Eni,
    Instance,
    NotFound,
    Subnet,
    SubnetFull,
    Vpc,
    VpcError,
)
from kubeplane.network.vpc.service import VpcService

__all__ = ["DEFAULT_CIDR", "DEFAULT_REGION", "Eni", "Instance", "NotFound", "Subnet", "SubnetFull", "Vpc",
           "VpcError", "VpcService"]
