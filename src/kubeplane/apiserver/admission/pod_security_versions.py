"""Which Pod Security Standards checks apply at a policy version (``<mode>-version`` labels).

Upstream versions every check: a namespace pinned to ``v1.22`` is judged by the rules as they were in
1.22, so a cluster upgrade never starts refusing pods that namespace accepted. ``latest`` (and any
version newer than the newest rule change) gets today's rules. The differences modelled here are the
ones that change a verdict for a pod written with fields (not the pre-1.19 seccomp annotations):
runAsUser=0 is refused from v1.23, the restricted capability rules from v1.22, the seccomp field
from v1.19, and the safe sysctls grew in v1.27 and v1.29.
"""

from __future__ import annotations

import re

from kubeplane.apiserver.admission import pod_security_checks as checks
from kubeplane.apiserver.admission.pod_security_checks import JSON, Check, Finding

Version = tuple[int, int] | None  # None is "latest"
LATEST = "latest"
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")

SYSCTLS_V1_0 = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                          "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range"})
SYSCTLS_V1_27 = SYSCTLS_V1_0 | {"net.ipv4.ip_local_reserved_ports"}
# From v1.29 on: the full set the checks module holds.
SYSCTLS_BY_VERSION: tuple[tuple[tuple[int, int], frozenset[str]], ...] = (
    ((1, 29), checks.SAFE_SYSCTLS), ((1, 27), SYSCTLS_V1_27), ((1, 0), SYSCTLS_V1_0))
# Checks that did not exist before a version (upstream's per-check MinimumVersion).
INTRODUCED: dict[Check, tuple[int, int]] = {
    checks.run_as_user: (1, 23),
    checks.capabilities_restricted: (1, 22),
    checks.seccomp_restricted: (1, 19),
}


class InvalidVersion(ValueError):
    pass


def parse_version(text: str) -> Version:
    """``latest`` → None, ``v1.N`` → (1, N); anything else raises InvalidVersion."""
    if text == LATEST:
        return None
    if not _VERSION.match(text):
        raise InvalidVersion(f'invalid version "{text}": must be "latest" or "v1.<minor>"')
    return 1, int(text.split(".")[1])


def _applies(check: Check, version: Version) -> bool:
    introduced = INTRODUCED.get(check)
    return version is None or introduced is None or version >= introduced


def _sysctls_at(version: Version) -> frozenset[str]:
    if version is None:
        return checks.SAFE_SYSCTLS
    return next(allowed for since, allowed in SYSCTLS_BY_VERSION if version >= since)


def evaluate(level: str, version: Version, meta: JSON, spec: JSON) -> list[Finding]:
    """The findings of ``level`` at ``version``, in upstream's order."""
    if level == "privileged":
        return []
    findings: list[Finding] = []
    for check in checks.RESTRICTED if level == "restricted" else checks.BASELINE:
        if not _applies(check, version):
            continue
        if check is checks.sysctls:
            findings += _sysctl_findings(spec, _sysctls_at(version))
        else:
            findings += check(meta, spec)
    return findings


def _sysctl_findings(spec: JSON, allowed: frozenset[str]) -> list[Finding]:
    security_context = spec.get("securityContext") or {}
    bad = [s.get("name", "") for s in security_context.get("sysctls") or () if s.get("name") not in allowed]
    return [("forbidden sysctls", ", ".join(bad))] if bad else []
