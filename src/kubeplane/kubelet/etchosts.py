"""The kubelet-managed ``/etc/hosts`` of a pod, as upstream writes it.

Written to ``<pod dir>/etc-hosts`` once the pod has an IP and bind-mounted at ``/etc/hosts`` into
every container that does not mount something there itself. A pod on the host network gets the
node's own hosts file instead of the managed entries; both end with the pod's ``hostAliases``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeplane.kubelet.dns import pod_hostname

JSON = dict[str, Any]

ETC_HOSTS = "/etc/hosts"
POD_FILE_NAME = "etc-hosts"
MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"
_LOCAL_ENTRIES = ("127.0.0.1\tlocalhost\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "fe00::0\tip6-localnet\n"
                  "fe00::0\tip6-mcastprefix\n"
                  "fe00::1\tip6-allnodes\n"
                  "fe00::2\tip6-allrouters\n")


def _alias_entries(pod: JSON) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    lines = [f"{alias.get('ip', '')}\t{chr(9).join(alias.get('hostnames') or [])}\n" for alias in aliases]
    return "\n# Entries added by HostAliases.\n" + "".join(lines)


def host_domain(pod: JSON, cluster_domain: str) -> str:
    """``<subdomain>.<namespace>.svc.<cluster domain>`` when the pod sets a subdomain."""
    spec = pod.get("spec") or {}
    subdomain = str(spec.get("subdomain") or "")
    if not subdomain:
        return ""
    return f"{subdomain}.{pod['metadata']['namespace']}.svc.{cluster_domain}"


def managed_content(pod: JSON, pod_ips: list[str], cluster_domain: str) -> str:
    hostname = pod_hostname(pod)
    domain = host_domain(pod, cluster_domain)
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    return MANAGED_HEADER + _LOCAL_ENTRIES + "".join(f"{ip}\t{names}\n" for ip in pod_ips) + _alias_entries(pod)


def host_network_content(pod: JSON, node_hosts: Path = Path(ETC_HOSTS)) -> str:
    try:
        node_content = node_hosts.read_text()
    except OSError:
        node_content = ""
    return HOST_NETWORK_HEADER + node_content + _alias_entries(pod)


def write_hosts_file(pod_dir: Path, pod: JSON, pod_ips: list[str], cluster_domain: str) -> Path:
    """Write (or rewrite) the pod's hosts file and return its path."""
    content = (host_network_content(pod) if (pod.get("spec") or {}).get("hostNetwork")
               else managed_content(pod, pod_ips, cluster_domain))
    path = pod_dir / POD_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == content:
            return path
    except OSError:
        pass
    # Written in place, as upstream does: running containers bind-mount this very inode.
    path.write_text(content)
    path.chmod(0o644)
    return path


def mounts_etc_hosts(container: JSON) -> bool:
    return any(mount.get("mountPath") == ETC_HOSTS for mount in container.get("volumeMounts") or [])
