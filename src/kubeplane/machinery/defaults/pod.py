"""Pod and pod-template defaults (upstream pkg/apis/core/v1/defaults.go).

Templates inside workloads get the pod-spec defaults but not the Pod-only ones (requests copied
from limits, host-network ports, resize policies), exactly as upstream's generated defaulters do.
"""

from __future__ import annotations

import functools
import re

from ._util import JSON, child, items, minor_at_least, setdefault, setdefault_if_empty

# Volume sources a pod volume may name; a volume naming none of them becomes an emptyDir.
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
    "image",
)
_VOLUME_SOURCE_SET = frozenset(VOLUME_SOURCES)

# A loose docker reference: lower-case repository path, optional registry host and port, tag, digest.
_REFERENCE_RE = re.compile(r"^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*"
                           r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+:[a-f0-9]{32,})?$")

# 0644: the file mode upstream gives projected files when the user sets none.
DEFAULT_FILE_MODE = 0o644


@functools.lru_cache(maxsize=1024)  # pure, and a cluster runs few distinct images
def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, else ``IfNotPresent``.

    Like upstream, an image that does not parse as a reference (empty, upper case) or that is
    pinned by digest has no tag, so it gets ``IfNotPresent``.
    """
    if not _REFERENCE_RE.match(image) or "@" in image:
        return "IfNotPresent"
    last_segment = image.rsplit("/", 1)[-1]
    tag = last_segment.split(":", 1)[1] if ":" in last_segment else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(handler: JSON | None) -> None:
    if handler is None:
        return
    http_get = child(handler, "httpGet")
    if http_get is not None:
        setdefault_if_empty(http_get, "path", "/")
        setdefault_if_empty(http_get, "scheme", "HTTP")


def _probe(probe: JSON | None) -> None:
    if probe is None:
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    _http_get(probe)
    grpc = child(probe, "grpc")
    if grpc is not None:
        setdefault(grpc, "service", "")


def _field_ref(holder: JSON | None) -> None:
    if holder is None:
        return
    ref = child(holder, "fieldRef")
    if ref is not None:
        setdefault_if_empty(ref, "apiVersion", "v1")


def container(ctr: JSON) -> None:
    image = ctr.get("image")
    if isinstance(image, str | None):
        setdefault_if_empty(ctr, "imagePullPolicy", image_pull_policy(image or ""))
    setdefault_if_empty(ctr, "terminationMessagePath", "/dev/termination-log")
    setdefault_if_empty(ctr, "terminationMessagePolicy", "File")
    setdefault(ctr, "resources", {})
    for port in items(ctr, "ports"):
        setdefault_if_empty(port, "protocol", "TCP")
    for env in items(ctr, "env"):
        _field_ref(child(env, "valueFrom"))
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe_key in ctr:
            _probe(child(ctr, probe_key))
    lifecycle = child(ctr, "lifecycle") if "lifecycle" in ctr else None
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            _http_get(child(lifecycle, hook))


def _downward_api_items(source: JSON) -> None:
    for item in items(source, "items"):
        _field_ref(item)


def volume(vol: JSON) -> None:
    # A volume has a handful of keys and there are thirty sources: look from the volume's side.
    if not any(value is not None and key in _VOLUME_SOURCE_SET for key, value in vol.items()):
        vol["emptyDir"] = {}
    for source_key in ("configMap", "secret", "downwardAPI", "projected"):
        source = vol.get(source_key)
        if isinstance(source, dict):
            setdefault(source, "defaultMode", DEFAULT_FILE_MODE)
    # The rarer sources are looked for by key first: a volume names one source.
    downward = child(vol, "downwardAPI") if "downwardAPI" in vol else None
    if downward is not None:
        _downward_api_items(downward)
    projected = child(vol, "projected") if "projected" in vol else None
    if projected is not None:
        for projection in items(projected, "sources"):
            inner = child(projection, "downwardAPI")
            if inner is not None:
                _downward_api_items(inner)
            token = child(projection, "serviceAccountToken")
            if token is not None:
                setdefault(token, "expirationSeconds", 3600)
    host_path = child(vol, "hostPath") if "hostPath" in vol else None
    if host_path is not None:
        setdefault(host_path, "type", "")
    iscsi = child(vol, "iscsi") if "iscsi" in vol else None
    if iscsi is not None:
        setdefault_if_empty(iscsi, "iscsiInterface", "default")
    ephemeral = child(vol, "ephemeral") if "ephemeral" in vol else None
    template = child(ephemeral, "volumeClaimTemplate") if ephemeral is not None else None
    claim_spec = child(template, "spec") if template is not None else None
    if claim_spec is not None:
        setdefault_if_empty(claim_spec, "volumeMode", "Filesystem")


def pod_spec(spec: JSON) -> None:
    setdefault_if_empty(spec, "dnsPolicy", "ClusterFirst")
    setdefault_if_empty(spec, "restartPolicy", "Always")
    setdefault(spec, "terminationGracePeriodSeconds", 30)
    setdefault(spec, "securityContext", {})
    setdefault_if_empty(spec, "schedulerName", "default-scheduler")
    setdefault(spec, "enableServiceLinks", True)
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for ctr in items(spec, key):
            container(ctr)
    for vol in items(spec, "volumes"):
        volume(vol)


def pod_template(template: JSON | None) -> None:
    """Defaults for a ``PodTemplateSpec`` inside a workload (spec only, no Pod-only defaults)."""
    if template is None:
        return
    spec = child(template, "spec")
    if spec is not None:
        pod_spec(spec)


def _requests_from_limits(ctr: JSON) -> None:
    resources = child(ctr, "resources")
    limits = child(resources, "limits") if resources is not None else None
    if resources is None or not limits:
        return
    requests = child(resources, "requests", create=True)
    if requests is None:
        return
    for name, quantity in limits.items():
        requests.setdefault(name, quantity)


def _resize_policy(ctr: JSON) -> None:
    # In-place resize (on by default from 1.33) records a NotRequired policy for every cpu/memory
    # resource the container requests (after requests were filled from limits).
    requests = (child(ctr, "resources") or {}).get("requests")
    policies = ctr.get("resizePolicy")
    if not isinstance(requests, dict) or (policies is not None and not isinstance(policies, list)):
        return
    present = {p.get("resourceName") for p in policies or [] if isinstance(p, dict)}
    added = [{"resourceName": name, "restartPolicy": "NotRequired"}
             for name in ("cpu", "memory") if name in requests and name not in present]
    if added:
        ctr["resizePolicy"] = [*(policies or []), *added]


def pod(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    pod_spec(spec)
    host_network = spec.get("hostNetwork") is True
    for key in ("containers", "initContainers"):
        for ctr in items(spec, key):
            _requests_from_limits(ctr)
            if host_network:
                # With the host's network a container port *is* a host port.
                for port in items(ctr, "ports"):
                    if not port.get("hostPort") and isinstance(port.get("containerPort"), int):
                        port["hostPort"] = port["containerPort"]
    if minor_at_least(minor, (1, 33)):
        for ctr in items(spec, "containers"):
            _resize_policy(ctr)
