"""CNI results and errors as JSON (spec 1.0.0, with the older shapes the spec still allows).

Stdlib only: the plugin uses this on every call.
"""

from __future__ import annotations

# Only for the type checker (mypy honours any constant named TYPE_CHECKING): importing typing and
# collections.abc costs ~3 ms, paid by every pod's ADD.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

SPEC_VERSION = "1.0.0"
SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]


def add_result(ip: str, gateway: str, routes: Sequence[str], host_veth: str, host_mac: str,
               pod_ifname: str, pod_mac: str, sandbox: str) -> dict[str, Any]:
    """The ADD result in 1.0.0 form: interface 0 is the host end, 1 the pod's (with ``sandbox``)."""
    return {
        "cniVersion": SPEC_VERSION,
        "interfaces": [{"name": host_veth, "mac": host_mac},
                       {"name": pod_ifname, "mac": pod_mac, "sandbox": sandbox}],
        "ips": [{"address": f"{ip}/32", "gateway": gateway, "interface": 1}],
        "routes": [{"dst": destination, "gw": gateway} for destination in routes],
        "dns": {},
    }


def for_version(result: dict[str, Any], cni_version: str) -> dict[str, Any]:
    """Re-shape a 1.0.0 result for the version the runtime's config asked for (0.3.x and 0.4.0
    carry ``"version": "4"`` on each IP)."""
    shaped = {**result, "cniVersion": cni_version}
    if cni_version != SPEC_VERSION:
        shaped["ips"] = [{**entry, "version": "4"} for entry in result.get("ips", [])]
    return shaped


def error(code: int, msg: str, details: str = "", cni_version: str = SPEC_VERSION) -> dict[str, Any]:
    return {"cniVersion": cni_version, "code": code, "msg": msg, "details": details}


def version_reply(cni_version: str = SPEC_VERSION) -> dict[str, Any]:
    return {"cniVersion": cni_version, "supportedVersions": SUPPORTED_VERSIONS}
