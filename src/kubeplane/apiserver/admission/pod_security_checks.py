"""The Pod Security Standards checks (baseline and restricted, latest version) as pure functions.

Each check returns ``(forbidden reason, forbidden detail)`` pairs; the admission plugin joins them in
upstream's order into ``<reason> (<detail>), ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

JSON = dict[str, Any]
Finding = tuple[str, str]
Check = Callable[[JSON, JSON], list[Finding]]

BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                          "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                          "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                          "net.ipv4.tcp_keepalive_probes"})
RESTRICTED_VOLUME_TYPES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                     "persistentVolumeClaim", "projected", "secret"})
_VOLUME_TYPES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
                 "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
                 "azureDisk", "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos", "image")


def containers(spec: JSON) -> list[JSON]:
    return [*(spec.get("initContainers") or ()), *(spec.get("containers") or ()),
            *(spec.get("ephemeralContainers") or ())]


def _names(kind: str, names: Iterable[str]) -> str:
    listed = list(names)
    quoted = ", ".join(f'"{n}"' for n in listed)
    return f"{kind}s {quoted}" if len(listed) > 1 else f"{kind} {quoted}"


def _who(pod: bool, bad: list[str]) -> str:
    if pod and bad:
        return "pod and " + _names("container", bad)
    return "pod" if pod else _names("container", bad)


def _sc(container: JSON) -> JSON:
    return container.get("securityContext") or {}


def _pod_sc(spec: JSON) -> JSON:
    return spec.get("securityContext") or {}


# -- baseline -----------------------------------------------------------------------------------------
def host_process(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [c["name"] for c in containers(spec) if (_sc(c).get("windowsOptions") or {}).get("hostProcess")]
    pod = bool((_pod_sc(spec).get("windowsOptions") or {}).get("hostProcess"))
    if not bad and not pod:
        return []
    return [("hostProcess", f"{_who(pod, bad)} must not set securityContext.windowsOptions.hostProcess=true")]


def host_namespaces(meta: JSON, spec: JSON) -> list[Finding]:
    used = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    return [("host namespaces", ", ".join(used))] if used else []


def privileged(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [c["name"] for c in containers(spec) if _sc(c).get("privileged")]
    return [("privileged", f"{_names('container', bad)} must not set securityContext.privileged=true")] if bad else []


def capabilities_baseline(meta: JSON, spec: JSON) -> list[Finding]:
    bad: dict[str, list[str]] = {}
    for c in containers(spec):
        for cap in (_sc(c).get("capabilities") or {}).get("add") or ():
            if cap not in BASELINE_CAPABILITIES:
                bad.setdefault(c["name"], []).append(cap)
    if not bad:
        return []
    caps = sorted({cap for found in bad.values() for cap in found})
    return [("non-default capabilities", f"{_names('container', bad)} must not include "
             f"{', '.join(chr(34) + c + chr(34) for c in caps)} in securityContext.capabilities.add")]


def host_path_volumes(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [v["name"] for v in spec.get("volumes") or () if "hostPath" in v]
    return [("hostPath volumes", _names("volume", bad))] if bad else []


def host_ports(meta: JSON, spec: JSON) -> list[Finding]:
    found: list[str] = []
    ports: list[str] = []
    for c in containers(spec):
        for port in c.get("ports") or ():
            if port.get("hostPort"):
                if c["name"] not in found:
                    found.append(c["name"])
                ports.append(str(port["hostPort"]))
    if not found:
        return []
    return [("hostPort", f"{_names('container', found)} uses hostPort{'s' if len(ports) > 1 else ''} "
             f"{', '.join(ports)}")]


def proc_mount(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [c["name"] for c in containers(spec) if _sc(c).get("procMount") not in (None, "", "Default")]
    return [("procMount", f'{_names("container", bad)} must not set securityContext.procMount to "Unmasked"')] \
        if bad else []


def seccomp_baseline(meta: JSON, spec: JSON) -> list[Finding]:
    pod = (_pod_sc(spec).get("seccompProfile") or {}).get("type") == "Unconfined"
    bad = [c["name"] for c in containers(spec) if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if not pod and not bad:
        return []
    return [("seccompProfile", f'{_who(pod, bad)} must not set securityContext.seccompProfile.type to "Unconfined"')]


def sysctls(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [s.get("name", "") for s in _pod_sc(spec).get("sysctls") or () if s.get("name") not in SAFE_SYSCTLS]
    return [("forbidden sysctls", ", ".join(bad))] if bad else []


# -- restricted ---------------------------------------------------------------------------------------
def restricted_volumes(meta: JSON, spec: JSON) -> list[Finding]:
    findings: list[str] = []
    types: list[str] = []
    for volume in spec.get("volumes") or ():
        kind = next((k for k in volume if k != "name"), "")
        if kind and kind not in RESTRICTED_VOLUME_TYPES:
            findings.append(volume["name"])
            types.append(kind)
    if not findings:
        return []
    uses = ", ".join(f'"{t}"' for t in sorted(set(types)))
    return [("restricted volume types", f"{_names('volume', findings)} use{'s' if len(findings) == 1 else ''} "
             f"restricted volume type{'s' if len(set(types)) > 1 else ''} {uses}")]


def allow_privilege_escalation(meta: JSON, spec: JSON) -> list[Finding]:
    bad = [c["name"] for c in containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return [("allowPrivilegeEscalation != false",
             f"{_names('container', bad)} must set securityContext.allowPrivilegeEscalation=false")] if bad else []


def capabilities_restricted(meta: JSON, spec: JSON) -> list[Finding]:
    no_drop = [c["name"] for c in containers(spec)
               if "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or ())]
    adds: dict[str, list[str]] = {}
    for c in containers(spec):
        for cap in (_sc(c).get("capabilities") or {}).get("add") or ():
            if cap != "NET_BIND_SERVICE":
                adds.setdefault(c["name"], []).append(cap)
    details: list[str] = []
    if no_drop:
        details.append(f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adds:
        caps = sorted({cap for found in adds.values() for cap in found})
        details.append(f"{_names('container', adds)} must not include "
                       f"{', '.join(chr(34) + c + chr(34) for c in caps)} in securityContext.capabilities.add")
    return [("unrestricted capabilities", "; ".join(details))] if details else []


def run_as_non_root(meta: JSON, spec: JSON) -> list[Finding]:
    pod_value = _pod_sc(spec).get("runAsNonRoot")
    explicit_false = [c["name"] for c in containers(spec) if _sc(c).get("runAsNonRoot") is False]
    unset = [c["name"] for c in containers(spec) if _sc(c).get("runAsNonRoot") is None]
    details: list[str] = []
    if pod_value is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    if explicit_false:
        details.append(f"{_names('container', explicit_false)} must not set securityContext.runAsNonRoot=false")
    if pod_value is None and unset:
        details.append(f"pod or {_names('container', unset)} must set securityContext.runAsNonRoot=true")
    return [("runAsNonRoot != true", "; ".join(details))] if details else []


def run_as_user(meta: JSON, spec: JSON) -> list[Finding]:
    pod = _pod_sc(spec).get("runAsUser") == 0
    bad = [c["name"] for c in containers(spec) if _sc(c).get("runAsUser") == 0]
    if not pod and not bad:
        return []
    return [("runAsUser=0", f"{_who(pod, bad)} must not set runAsUser=0")]


def seccomp_restricted(meta: JSON, spec: JSON) -> list[Finding]:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = (_pod_sc(spec).get("seccompProfile") or {}).get("type")
    bad_explicit = [c["name"] for c in containers(spec)
                    if (_sc(c).get("seccompProfile") or {}).get("type") not in (None, *allowed)]
    unset = [c["name"] for c in containers(spec) if (_sc(c).get("seccompProfile") or {}).get("type") is None]
    details: list[str] = []
    if pod_type is not None and pod_type not in allowed:
        details.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    if bad_explicit:
        details.append(f'{_names("container", bad_explicit)} must not set securityContext.seccompProfile.type to '
                       f'"{(_sc(next(c for c in containers(spec) if c["name"] == bad_explicit[0])).get("seccompProfile") or {}).get("type")}"')
    if pod_type is None and unset:
        details.append(f'pod or {_names("container", unset)} must set securityContext.seccompProfile.type to '
                       '"RuntimeDefault" or "Localhost"')
    return [("seccompProfile", "; ".join(details))] if details else []


BASELINE: tuple[Check, ...] = (host_process, host_namespaces, privileged, capabilities_baseline, host_path_volumes,
                               host_ports, proc_mount, seccomp_baseline, sysctls)
# The restricted profile replaces the baseline capability and seccomp checks with stricter ones.
RESTRICTED: tuple[Check, ...] = (
    host_process, host_namespaces, privileged, host_path_volumes, host_ports, proc_mount, sysctls,
    restricted_volumes, allow_privilege_escalation, capabilities_restricted, run_as_non_root, run_as_user,
    seccomp_restricted)


def evaluate(level: str, meta: JSON, spec: JSON) -> list[Finding]:
    if level == "privileged":
        return []
    checks = RESTRICTED if level == "restricted" else BASELINE
    findings: list[Finding] = []
    for check in checks:
        findings += check(meta, spec)
    return findings


def describe(findings: list[Finding]) -> str:
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in findings)
