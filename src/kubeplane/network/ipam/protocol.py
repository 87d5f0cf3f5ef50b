"""What the CNI plugin and ipamd say to each other: one JSON object per line over a unix socket.

Request: ``{"command": "ADD"|"DEL"|"CHECK"|"PING", "containerId", "netns", "ifname", "args": {...}}``.
Reply: ``{"result": {...}}`` or ``{"error": {"code", "msg", "details"}}`` with CNI's error codes, so
the plugin can print an ipamd error as it is. Stdlib only: the plugin imports this on every call.
"""

from __future__ import annotations

import json
import socket

# Only the type checker needs these (pathlib alone costs the plugin ~2 ms per pod).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

SOCKET_NAME = "ipamd.sock"
# CNI spec error codes (1.0.0, "Error")
ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENVIRONMENT = 4
ERR_IO = 5
ERR_DECODE = 6
ERR_INVALID_CONFIG = 7
ERR_TRY_AGAIN_LATER = 11
ERR_INTERNAL = 999
# aws-vpc-cni's words, which users search for when a node runs out of pod addresses.
NO_ADDRESS_MESSAGE = "failed to assign an IP address to container"
_MAX_LINE = 1 << 20


class IpamdError(Exception):
    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code, self.msg, self.details = code, msg, details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "details": self.details}


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_NAME


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def call(path: str | Path, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one request to ipamd and return its result; raises IpamdError for its errors and for
    an ipamd that cannot be reached (code 11: the runtime retries)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(str(path))
            connection.sendall(encode(request))
            with connection.makefile("rb") as stream:
                line = stream.readline(_MAX_LINE)
    except OSError as err:
        raise IpamdError(ERR_TRY_AGAIN_LATER, "failed to reach ipamd", f"{path}: {err}") from None
    if not line:
        raise IpamdError(ERR_TRY_AGAIN_LATER, "ipamd closed the connection without an answer", str(path))
    reply: dict[str, Any] = json.loads(line)
    if "error" in reply:
        error = reply["error"]
        raise IpamdError(int(error["code"]), str(error["msg"]), str(error.get("details", "")))
    result: dict[str, Any] = reply["result"]
    return result
