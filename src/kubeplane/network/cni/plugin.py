"""The CNI plugin executable (``kubeplane-vpc-cni``), spec 1.0.0: ADD, DEL, CHECK, VERSION.

It only parses what the runtime hands it (CNI_* variables and the network config on stdin) and
passes the request to the node's ipamd, which assigns the address and wires the pod: ipamd has
pyroute2 loaded already, whereas importing it here would cost ~100 ms per pod. This module and
what it imports are stdlib only; a result or a CNI error goes to stdout, an error exits 1.
"""

from __future__ import annotations

import json
import os
import sys

from kubeplane.network.cni import result as cni_result
from kubeplane.network.ipam import protocol
from kubeplane.network.ipam.protocol import IpamdError

# typing and collections.abc cost ~3 ms to import and are needed by the type checker only (mypy
# honours any constant named TYPE_CHECKING).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import IO, Any

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION")


def parse_cni_args(raw: str) -> dict[str, str]:
    """``K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IgnoreUnknown=1`` → a dict."""
    parsed = {}
    for pair in filter(None, raw.split(";")):
        key, separator, value = pair.partition("=")
        if not separator:
            raise IpamdError(protocol.ERR_INVALID_ENVIRONMENT, "invalid CNI_ARGS", f"{pair!r} is not KEY=VALUE")
        parsed[key] = value
    return parsed


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise IpamdError(protocol.ERR_INVALID_ENVIRONMENT, f"required environment variable {name} is not set")
    return value


def _network_config(stdin: IO[str]) -> dict[str, Any]:
    try:
        config = json.loads(stdin.read() or "null")
    except ValueError as err:
        raise IpamdError(protocol.ERR_DECODE, "failed to decode the network configuration", str(err)) from None
    if not isinstance(config, dict):
        raise IpamdError(protocol.ERR_DECODE, "the network configuration is not a JSON object")
    version = config.get("cniVersion", "")
    if version not in cni_result.SUPPORTED_VERSIONS:
        raise IpamdError(protocol.ERR_INCOMPATIBLE_VERSION, f"incompatible CNI version {version!r}",
                         f"supported: {', '.join(cni_result.SUPPORTED_VERSIONS)}")
    if not config.get("ipamdSocket"):
        raise IpamdError(protocol.ERR_INVALID_CONFIG, "the network configuration has no ipamdSocket")
    return config


def prepare(command: str, env: Mapping[str, str], stdin: IO[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the environment and the config (not for VERSION); returns the config and ipamd's
    request. ipamd calls this too, for what the compiled shim hands it raw."""
    if command not in COMMANDS or command == "VERSION":
        raise IpamdError(protocol.ERR_INVALID_ENVIRONMENT, f"unknown CNI_COMMAND {command!r}")
    config = _network_config(stdin)
    request = {
        "command": command,
        "containerId": _require(env, "CNI_CONTAINERID"),
        "ifname": _require(env, "CNI_IFNAME"),
        # DEL may come without a namespace: the runtime calls it again once the netns is gone.
        "netns": env.get("CNI_NETNS", "") if command == "DEL" else _require(env, "CNI_NETNS"),
        "args": parse_cni_args(env.get("CNI_ARGS", "")),
    }
    return config, request


def output_for(command: str, config: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    """What to print for ipamd's answer (None: nothing, as for DEL and CHECK)."""
    if command == "ADD":
        return cni_result.for_version(answer, config["cniVersion"])
    return None


def handle(command: str, env: Mapping[str, str], stdin: IO[str]) -> dict[str, Any] | None:
    """Carry out one CNI command; returns what to print (None: nothing, as for DEL and CHECK)."""
    if command == "VERSION":
        return cni_result.version_reply()
    config, request = prepare(command, env, stdin)
    answer = protocol.call(config["ipamdSocket"], request, timeout=float(config.get("timeoutSeconds", 60)))
    return output_for(command, config, answer)


def main(env: Mapping[str, str] | None = None, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    env = os.environ if env is None else env
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        output = handle(env.get("CNI_COMMAND", ""), env, stdin)
    except IpamdError as err:
        json.dump(cni_result.error(err.code, err.msg, err.details), stdout)
        return 1
    except Exception as err:  # anything else still answers in CNI's format, never a traceback
        json.dump(cni_result.error(protocol.ERR_INTERNAL, "internal error in kubeplane-vpc-cni", repr(err)), stdout)
        return 1
    if output is not None:
        json.dump(output, stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
