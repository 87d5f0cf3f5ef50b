"""Reading probe and handler specs the way upstream does, and formatting text the way Go prints it.

Upstream's messages are Go format strings (``%q``, ``%v`` of a duration or a slice); the helpers
here reproduce those renderings so events read the same as on a real node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

# The API server defaults these; a pod written before defaulting (or in a unit test) gets them here.
DEFAULT_TIMEOUT_SECONDS = 1
DEFAULT_PERIOD_SECONDS = 10
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_POD_GRACE_PERIOD = 30
# Upstream never stops a container with less than this, even when preStop used up the grace period.
MINIMUM_GRACE_PERIOD_SECONDS = 2
# Probe output (exec output, HTTP bodies) is cut here, as upstream reads at most 10 KiB.
MAX_OUTPUT_BYTES = 10 * 1024


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: int
    timeout: int
    period: int
    success_threshold: int
    failure_threshold: int
    termination_grace_period: int | None

    @classmethod
    def of(cls, probe: JSON) -> ProbeTiming:
        def positive(field: str, default: int) -> int:
            value = probe.get(field)
            return int(value) if value else default

        grace = probe.get("terminationGracePeriodSeconds")
        return cls(initial_delay=int(probe.get("initialDelaySeconds") or 0),
                   timeout=positive("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS),
                   period=positive("periodSeconds", DEFAULT_PERIOD_SECONDS),
                   success_threshold=positive("successThreshold", DEFAULT_SUCCESS_THRESHOLD),
                   failure_threshold=positive("failureThreshold", DEFAULT_FAILURE_THRESHOLD),
                   termination_grace_period=None if grace is None else int(grace))


class PortError(ValueError):
    pass


def resolve_port(port: int | str | None, container: JSON) -> int:
    """A probe port: a number, or the name of one of the container's ports (a numeric string is
    accepted as a last resort, as upstream does)."""
    if isinstance(port, int):
        number = port
    elif isinstance(port, str):
        named = [p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port]
        if named:
            number = int(named[0] or 0)
        else:
            try:
                number = int(port)
            except ValueError:
                raise PortError(f"port {port} not found") from None
    else:
        raise PortError(f"intOrString had no kind: {port!r}")
    if 0 < number < 65536:
        return number
    raise PortError(f"invalid port number: {number}")


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_pod(pod: JSON) -> str:
    """Upstream's ``format.Pod``: ``name_namespace(uid)``."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('name', '')}_{metadata.get('namespace', '')}({metadata.get('uid', '')})"


def container_reference(pod: JSON, container_name: str) -> JSON:
    """The object an event about one container points at (its ``fieldPath`` names the container)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    is_init = any(c.get("name") == container_name for c in spec.get("initContainers") or [])
    field = "initContainers" if is_init else "containers"
    ref = {"apiVersion": "v1", "kind": "Pod", "name": metadata.get("name", ""),
           "namespace": metadata.get("namespace", ""), "uid": metadata.get("uid", ""),
           "fieldPath": f"spec.{field}{{{container_name}}}"}
    return {key: value for key, value in ref.items() if value}


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string: double quotes, backslash escapes, non-printables as ``\\xNN``."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def go_duration(seconds: int) -> str:
    """Go's ``%v`` of a whole-second ``time.Duration``: ``1s``, ``1m30s``, ``1h0m0s``."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def go_slice(items: list[str]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[sh -c exit 1]``."""
    return "[" + " ".join(items) + "]"


def major_minor(version: str) -> str:
    """``v1.35.2`` or ``1.35`` → ``1.35`` (the part upstream puts in its User-Agent)."""
    parts = version.lstrip("v").split(".")
    return ".".join(parts[:2])


def truncate_output(data: bytes) -> str:
    return data[:MAX_OUTPUT_BYTES].decode(errors="replace")
