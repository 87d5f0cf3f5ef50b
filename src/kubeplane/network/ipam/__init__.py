"""The VPC CNI's IP address management daemon ("ipamd"), one per node, as aws-vpc-cni's.

``limits`` (ENIs and IPs per instance type, ``max_pods``), ``pool`` (the warm pool as pure logic),
``datastore`` (assignments on disk), ``protocol`` (what the CNI plugin and ipamd say over the unix
socket; stdlib only, the plugin imports it), ``daemon`` (the asyncio server that drives the VPC and
wires pods). This module imports nothing eagerly: the CNI plugin goes through it on every call, and
its start-up time is on each pod's critical path.
"""

from __future__ import annotations

# Not ``typing.TYPE_CHECKING``: importing typing costs ~3 ms of every CNI call; mypy honours any
# constant of this name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kubeplane.network.ipam.limits import InstanceLimits, UnknownInstanceType, limits_for, max_pods

__all__ = ["InstanceLimits", "UnknownInstanceType", "limits_for", "max_pods"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kubeplane.network.ipam import limits
        return getattr(limits, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
