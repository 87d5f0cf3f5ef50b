"""Pod spec rules (upstream pkg/apis/core/validation: ValidatePodSpec and ValidatePodUpdate).

``pod_spec`` is shared by Pods and by every workload's pod template; callers pass the path prefix
(``spec`` or ``spec.template.spec``) so causes name the field as upstream does.

Every pod create (and every workload write) runs these rules on valid input, so they are written
for the valid case: a field path is rendered only when a cause is reported, and an enum or name is
checked in full only when it is not one of the accepted values. The answers, their order included,
are those of the plain rules (``tests/unit/machinery/test_validation_fast_pod.py`` keeps them as
its oracle).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeGuard

from kubeplane.machinery.defaults._util import minor_at_least
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.objects import clone

from . import field as f
from . import meta, names, quantity
from ._access import JSON, integer, lst, obj, str_map, text

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
MAX_INT32 = 2**31 - 1

# The order upstream checks volume sources in; the second one found is the one it reports.
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "portworxVolume", "projected", "scaleIO", "storageos", "csi", "ephemeral",
    "image",
)
_VOLUME_SOURCE_RANK = {source: rank for rank, source in enumerate(VOLUME_SOURCES)}
# Sources whose object must name what it mounts, and sources with a defaultMode, in upstream's order.
_NAMED_VOLUME_SOURCES = (("secret", "secretName"), ("configMap", "name"), ("persistentVolumeClaim", "claimName"),
                         ("hostPath", "path"))
_MODE_VOLUME_SOURCES = ("secret", "configMap", "downwardAPI", "projected")
# The part of those rules that applies to a volume with a single source.
_SINGLE_SOURCE_RULES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    source: (tuple(pair for pair in _NAMED_VOLUME_SOURCES if pair[0] == source),
             (source,) if source in _MODE_VOLUME_SOURCES else ())
    for source in VOLUME_SOURCES
}

HTTP_SCHEMES = ("HTTP", "HTTPS")
PROBES = (("livenessProbe", True), ("readinessProbe", False), ("startupProbe", True))
PROBE_COUNTS = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
                "terminationGracePeriodSeconds")
# Spec fields holding object names, with the format each must have.
NAME_FIELDS = (("serviceAccountName", names.dns1123_subdomain), ("nodeName", names.dns1123_subdomain),
               ("hostname", names.dns1123_label), ("subdomain", names.dns1123_label),
               ("schedulerName", names.dns1123_subdomain), ("priorityClassName", names.dns1123_subdomain))

UPDATABLE_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))


def _is_int(value: Any) -> TypeGuard[int]:
    """An integer as ``_access.integer`` reads one (JSON booleans are not integers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _name_causes(path: str, index: int | None, name: Any, check: Callable[[str], list[str]]) -> list[Cause]:
    """A required ``name`` (of list item ``index`` under ``path``, or of ``path`` itself) that
    ``check`` accepts; the field path is only built for a cause."""
    if isinstance(name, str) and name:
        problems = check(name)
        if not problems:
            return []
        return f.invalid_all(f.child(path if index is None else f.index(path, index), "name"), name, problems)
    return [f.required(f.child(path if index is None else f.index(path, index), "name"))]


def _volumes(path: str, spec: JSON) -> tuple[list[Cause], set[str]]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, vol in enumerate(lst(spec, "volumes")):
        if not isinstance(vol, dict):
            continue
        name = vol.get("name")
        causes += _name_causes(path, i, name, names.dns1123_label)
        if isinstance(name, str) and name:
            if name in seen:
                causes.append(f.duplicate(f.child(f.index(path, i), "name"), name))
            seen.add(name)
        # A volume has a handful of keys and there are 30 sources: look up its keys, not the sources.
        sources = [k for k in vol if k in _VOLUME_SOURCE_RANK and vol[k] is not None]
        if len(sources) > 1:
            sources.sort(key=_VOLUME_SOURCE_RANK.__getitem__)
        if not sources:
            causes.append(f.required(f.index(path, i), "must specify a volume type"))
        elif len(sources) > 1:
            causes.append(f.forbidden(f.child(f.index(path, i), sources[1]),
                                      "may not specify more than 1 volume type"))
        if sources:
            causes += _volume_source(path, i, vol, sources)
    return causes, seen


def _volume_source(volumes_path: str, i: int, vol: JSON, sources: list[str]) -> list[Cause]:
    """``sources``: the volume's non-null sources; with one (any valid volume), only its rules apply."""
    causes: list[Cause] = []
    named, with_mode = (_SINGLE_SOURCE_RULES[sources[0]] if len(sources) == 1
                        else (_NAMED_VOLUME_SOURCES, _MODE_VOLUME_SOURCES))
    for source, name_key in named:
        source_value = vol.get(source)
        if isinstance(source_value, dict) and not text(source_value, name_key):
            causes.append(f.required(f.child(f.index(volumes_path, i), source, name_key)))
    for source in with_mode:
        source_value = vol.get(source)
        mode = source_value.get("defaultMode") if isinstance(source_value, dict) else None
        if _is_int(mode) and not 0 <= mode <= 0o777:
            causes.append(f.invalid(f.child(f.index(volumes_path, i), source, "defaultMode"), mode,
                                    "must be a number between 0 and 0777 (octal), both inclusive"))
    return causes


def _ports(path: str, ctr: JSON) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(lst(ctr, "ports")):
        if not isinstance(port, dict):
            continue
        name = port.get("name")
        if isinstance(name, str) and name:
            name_errors = names.port_name(name)
            if name_errors:
                causes += f.invalid_all(f.child(f.index(path, i), "name"), name, name_errors)
            elif name in seen:
                causes.append(f.duplicate(f.child(f.index(path, i), "name"), name))
            seen.add(name)
        number = port.get("containerPort")
        if not _is_int(number) or not number:
            causes.append(f.required(f.child(f.index(path, i), "containerPort")))
        elif not 1 <= number <= 65535:
            causes += f.invalid_all(f.child(f.index(path, i), "containerPort"), number, names.port_number(number))
        host_port = port.get("hostPort")
        if _is_int(host_port) and host_port and not 1 <= host_port <= 65535:
            causes += f.invalid_all(f.child(f.index(path, i), "hostPort"), host_port, names.port_number(host_port))
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            causes += f.one_of(f.child(f.index(path, i), "protocol"), protocol, PROTOCOLS)
    return causes


@functools.lru_cache(maxsize=64)
def _relaxed_env_names(minor: str) -> bool:
    return minor_at_least(minor, (1, 34))  # RelaxedEnvironmentVariableValidation GA


def _env(path: str, ctr: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    relaxed = _relaxed_env_names(minor)
    for i, env in enumerate(lst(ctr, "env")):
        if not isinstance(env, dict):
            continue
        name = env.get("name")
        causes += _name_causes(path, i, name, lambda value: names.env_var_name(value, relaxed))
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict):
            if text(env, "value"):
                causes.append(f.invalid(f.child(f.index(path, i), "valueFrom"), "",
                                        "may not be specified when `value` is not empty"))
            sources = [k for k, v in value_from.items() if v is not None]
            if not sources:
                causes.append(f.invalid(f.child(f.index(path, i), "valueFrom"), "",
                                        "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                        "`configMapKeyRef` or `secretKeyRef`"))
            elif len(sources) > 1:
                causes.append(f.invalid(f.child(f.index(path, i), "valueFrom"), "",
                                        "may not have more than one field specified at a time"))
    return causes


def _volume_mounts(path: str, ctr: JSON, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    mount_points: set[str] = set()
    for i, mount in enumerate(lst(ctr, "volumeMounts")):
        if not isinstance(mount, dict):
            continue
        name = mount.get("name")
        if not isinstance(name, str) or not name:
            causes.append(f.required(f.child(f.index(path, i), "name")))
        elif name not in volumes:
            causes.append(f.not_found(f.child(f.index(path, i), "name"), name))
        target = text(mount, "mountPath")
        if not target:
            causes.append(f.required(f.child(f.index(path, i), "mountPath")))
        elif target in mount_points:
            causes.append(f.invalid(f.child(f.index(path, i), "mountPath"), target, "must be unique"))
        mount_points.add(target)
    return causes


def _resources(path: str, ctr: JSON) -> list[Cause]:
    resources = obj(ctr, "resources")
    causes: list[Cause] = []
    limits, requests = obj(resources, "limits"), obj(resources, "requests")
    parsed_limits: dict[str, Fraction | None] = {}
    parsed_requests: dict[str, Fraction | None] = {}
    for part, values, parsed_values in (("limits", limits, parsed_limits), ("requests", requests, parsed_requests)):
        for name, value in values.items():
            parsed = parsed_values[name] = quantity.parse(value)
            # A Fraction keeps its sign in the numerator: no Fraction comparison needed.
            if parsed is not None and parsed.numerator < 0:
                causes.append(f.invalid(f.key(f.child(path, part), name), str(value),
                                        "must be greater than or equal to 0"))
    for name, request in requests.items():
        req_value, limit_value = parsed_requests[name], parsed_limits.get(name)  # absent: quantity.parse(None)
        # req > limit, cross-multiplied (denominators are positive) to skip Fraction's generic compare.
        if (req_value is not None and limit_value is not None
                and req_value.numerator * limit_value.denominator > limit_value.numerator * req_value.denominator):
            causes.append(f.invalid(f.key(f.child(path, "requests"), name), str(request),
                                    f"must be less than or equal to {name} limit of {limits[name]}"))
    return causes


def _handler(base: str, at: tuple[str, ...], holder: JSON, handler_names: tuple[str, ...]) -> list[Cause]:
    """The handler at ``base`` + ``at`` (its path is rendered only for an error)."""
    present = [h for h in handler_names if holder.get(h) is not None]
    if not present:
        return [f.required(f.child(base, *at), "must specify a handler type")]
    if len(present) > 1:
        return [f.forbidden(f.child(base, *at, present[1]), "may not specify more than 1 handler type")]
    causes: list[Cause] = []
    http_get = holder.get("httpGet")
    if isinstance(http_get, dict) and http_get:
        scheme = http_get.get("scheme")
        if scheme not in HTTP_SCHEMES:
            causes += f.one_of(f.child(base, *at, "httpGet", "scheme"), scheme, HTTP_SCHEMES)
    for action in ("httpGet", "tcpSocket"):
        action_value = holder.get(action)
        if isinstance(action_value, dict):
            port = action_value.get("port")
            if not _valid_port_reference(port):
                causes += port_reference(f.child(base, *at, action, "port"), port)
    return causes


def _valid_port_reference(port: Any) -> bool:
    """True exactly when ``port_reference`` would report nothing."""
    if isinstance(port, bool) or port is None:
        return False
    if isinstance(port, int):
        return 1 <= port <= 65535
    if isinstance(port, str):
        return not names.port_name(port)
    return True


def port_reference(path: str, port: Any) -> list[Cause]:
    """An IntOrString naming a container port: a valid number or a valid IANA port name."""
    if isinstance(port, bool) or port is None:
        return [f.required(path)]
    if isinstance(port, int):
        return f.invalid_all(path, port, names.port_number(port))
    if isinstance(port, str):
        return f.invalid_all(path, port, names.port_name(port))
    return []


def _probe(ctr_path: str, probe_key: str, probe: JSON, single_success: bool) -> list[Cause]:
    causes = _handler(ctr_path, (probe_key,), probe, PROBE_HANDLERS)
    for key in PROBE_COUNTS:
        value = probe.get(key)
        if isinstance(value, int) and value < 0:  # never a bool: False/True are 0/1
            causes += f.nonnegative(f.child(ctr_path, probe_key, key), value)
    success = probe.get("successThreshold")
    if single_success and _is_int(success) and success != 1:
        causes.append(f.invalid(f.child(ctr_path, probe_key, "successThreshold"), success, "must be 1"))
    return causes


def _container(path: str, ctr: JSON, volumes: set[str], minor: str) -> list[Cause]:
    causes: list[Cause] = []
    name = ctr.get("name")
    causes += _name_causes(path, None, name, names.dns1123_label)
    image = ctr.get("image")
    if not isinstance(image, str) or not image:
        causes.append(f.required(f.child(path, "image")))
    elif image != image.strip():
        causes.append(f.invalid(f.child(path, "image"), image, "must not have leading or trailing whitespace"))
    pull_policy = ctr.get("imagePullPolicy")
    if pull_policy not in PULL_POLICIES:
        causes += f.one_of(f.child(path, "imagePullPolicy"), pull_policy, PULL_POLICIES)
    message_policy = ctr.get("terminationMessagePolicy")
    if message_policy not in TERMINATION_MESSAGE_POLICIES:
        causes += f.one_of(f.child(path, "terminationMessagePolicy"), message_policy, TERMINATION_MESSAGE_POLICIES)
    if "ports" in ctr:
        causes += _ports(f.child(path, "ports"), ctr)
    if "env" in ctr:
        causes += _env(f.child(path, "env"), ctr, minor)
    if "volumeMounts" in ctr:
        causes += _volume_mounts(f.child(path, "volumeMounts"), ctr, volumes)
    if "resources" in ctr:
        causes += _resources(f.child(path, "resources"), ctr)
    for probe_key, single_success in PROBES:
        probe = ctr.get(probe_key)
        if isinstance(probe, dict):
            causes += _probe(path, probe_key, probe, single_success)
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            hook_value = lifecycle.get(hook)
            if isinstance(hook_value, dict):
                causes += _handler(path, ("lifecycle", hook), hook_value, LIFECYCLE_HANDLERS)
    return causes


def _init_container_hooks(path: str, ctr: JSON) -> list[Cause]:
    # Only sidecars (restartPolicy Always) run alongside the app, so only they may have probes/hooks.
    return [f.forbidden(f.child(path, key), "may not be set for init containers without restartPolicy=Always")
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe") if ctr.get(key) is not None]


def _containers(path: str, spec: JSON, volumes: set[str], minor: str) -> list[Cause]:
    causes: list[Cause] = []
    if not lst(spec, "containers"):
        causes.append(f.required(f.child(path, "containers")))
    seen: set[str] = set()
    # Ephemeral containers have their own rules (ephemeral.py), checked when they are added.
    for key in ("initContainers", "containers"):
        containers = lst(spec, key)
        if not containers:
            continue
        list_path = f.child(path, key)
        for i, ctr in enumerate(containers):
            if not isinstance(ctr, dict):
                continue
            ctr_path = f.index(list_path, i)
            causes += _container(ctr_path, ctr, volumes, minor)
            if key == "initContainers" and ctr.get("restartPolicy") != "Always":
                causes += _init_container_hooks(ctr_path, ctr)
            name = text(ctr, "name")
            if name and name in seen:
                causes.append(f.duplicate(f.child(ctr_path, "name"), name))
            seen.add(name)
    return causes


def _tolerations(path: str, spec: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for i, toleration in enumerate(lst(spec, "tolerations")):
        if not isinstance(toleration, dict):
            continue
        key = text(toleration, "key")
        if key:
            key_errors = names.qualified_name(key)
            if key_errors:
                causes += f.invalid_all(f.child(f.index(path, i), "key"), key, key_errors)
        operator = text(toleration, "operator")
        if operator and operator not in TOLERATION_OPERATORS:
            causes += f.one_of(f.child(f.index(path, i), "operator"), operator, TOLERATION_OPERATORS,
                               required_when_empty=False)
        if operator == "Exists" and text(toleration, "value"):
            causes.append(f.invalid(f.child(f.index(path, i), "operator"), toleration["value"],
                                    "value must be empty when `operator` is 'Exists'"))
        if not key and operator != "Exists":
            causes.append(f.invalid(f.child(f.index(path, i), "operator"), operator,
                                    "operator must be Exists when `key` is empty, which means \"match all values "
                                    "and all keys\""))
        effect = toleration.get("effect")
        if effect not in TAINT_EFFECTS:
            causes += f.one_of(f.child(f.index(path, i), "effect"), effect, TAINT_EFFECTS, required_when_empty=False)
    return causes


def pod_spec(path: str, spec: JSON, minor: str) -> list[Cause]:
    volume_causes, volumes = _volumes(f.child(path, "volumes"), spec)
    causes = volume_causes + _containers(path, spec, volumes, minor)
    restart_policy = spec.get("restartPolicy")
    if restart_policy not in RESTART_POLICIES:
        causes += f.one_of(f.child(path, "restartPolicy"), restart_policy, RESTART_POLICIES)
    dns_policy = spec.get("dnsPolicy")
    if dns_policy not in DNS_POLICIES:
        causes += f.one_of(f.child(path, "dnsPolicy"), dns_policy, DNS_POLICIES)
    if dns_policy == "None" and not isinstance(spec.get("dnsConfig"), dict):
        causes.append(f.required(f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    node_selector = spec.get("nodeSelector")
    if isinstance(node_selector, dict) and node_selector:
        causes += meta.validate_labels(f.child(path, "nodeSelector"), str_map(spec, "nodeSelector"))
    for key, check in NAME_FIELDS:
        value = spec.get(key)
        if isinstance(value, str) and value:
            name_errors = check(value)
            if name_errors:
                causes += f.invalid_all(f.child(path, key), value, name_errors)
    deadline = spec.get("activeDeadlineSeconds")
    if _is_int(deadline) and not 1 <= deadline <= MAX_INT32:
        causes.append(f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                                f"must be between 1 and {MAX_INT32}, inclusive"))
    if "tolerations" in spec:
        causes += _tolerations(f.child(path, "tolerations"), spec)
    return causes


def validate_pod(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes = pod_spec("spec", spec, minor)
    if lst(spec, "ephemeralContainers"):
        causes.append(f.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return causes


def template_pod_spec(path: str, spec: JSON, minor: str) -> list[Cause]:
    """A pod template's spec: the pod rules, and no ephemeral containers."""
    causes = pod_spec(path, spec, minor)
    if lst(spec, "ephemeralContainers"):
        causes.append(f.forbidden(f.child(path, "ephemeralContainers"),
                                  "ephemeral containers not allowed in pod template"))
    return causes


def _tolerations_only_added(new: list[Any], old: list[Any]) -> list[Cause]:
    for old_toleration in old:
        if not isinstance(old_toleration, dict):
            continue
        kept = any(isinstance(n, dict) and {**old_toleration, "tolerationSeconds": n.get("tolerationSeconds")}
                   == {**n, "tolerationSeconds": n.get("tolerationSeconds")} for n in new)
        if not kept:
            return [f.forbidden("spec.tolerations",
                                "existing toleration can not be modified except its tolerationSeconds")]
    return []


def _same_containers(key: str, new_spec: JSON, old_spec: JSON) -> tuple[list[Cause], bool]:
    new_ctrs, old_ctrs = lst(new_spec, key), lst(old_spec, key)
    path = f.child("spec", key)
    if len(new_ctrs) != len(old_ctrs):
        return [f.forbidden(path, "pod updates may not add or remove containers")], False
    causes: list[Cause] = []
    for i, ctr in enumerate(new_ctrs):
        image = text(ctr, "image")
        if not image:
            causes.append(f.required(f.child(f.index(path, i), "image")))
        elif image != image.strip():
            causes.append(f.invalid(f.child(f.index(path, i), "image"), image,
                                    "must not have leading or trailing whitespace"))
    return causes, True


def validate_pod_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    """Only images, a shorter deadline, added tolerations and a fixed-up grace period may change."""
    new_spec, old_spec = obj(new, "spec"), obj(old, "spec")
    causes: list[Cause] = []
    munged = clone(new_spec)
    for key in ("containers", "initContainers"):
        container_causes, same_shape = _same_containers(key, new_spec, old_spec)
        causes += container_causes
        if not same_shape:
            return causes
        for ctr, old_ctr in zip(lst(munged, key), lst(old_spec, key), strict=True):
            if isinstance(ctr, dict) and isinstance(old_ctr, dict):
                ctr["image"] = old_ctr.get("image")
    causes += _deadline_update(new_spec, old_spec)
    munged["activeDeadlineSeconds"] = old_spec.get("activeDeadlineSeconds")
    causes += _tolerations_only_added(lst(new_spec, "tolerations"), lst(old_spec, "tolerations"))
    munged["tolerations"] = old_spec.get("tolerations")
    old_grace = integer(old_spec, "terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    new_gates = lst(new_spec, "schedulingGates")
    if all(gate in lst(old_spec, "schedulingGates") for gate in new_gates):
        munged["schedulingGates"] = old_spec.get("schedulingGates")  # removing gates is allowed
    if _without_nulls(munged) != _without_nulls(old_spec):
        changed = sorted(k for k in set(munged) | set(old_spec)
                         if _without_nulls(munged.get(k)) != _without_nulls(old_spec.get(k)))
        causes.append(f.forbidden("spec", f"pod updates may not change fields other than {UPDATABLE_FIELDS}\n"
                                          f"changed: {', '.join('spec.' + k for k in changed)}"))
    return causes


def _deadline_update(new_spec: JSON, old_spec: JSON) -> list[Cause]:
    path = "spec.activeDeadlineSeconds"
    new_deadline, old_deadline = integer(new_spec, "activeDeadlineSeconds"), integer(old_spec, "activeDeadlineSeconds")
    if new_deadline is None:
        if old_deadline is not None:
            return [f.invalid(path, None, "must not update from a positive integer to nil value")]
        return []
    if not 0 <= new_deadline <= MAX_INT32:
        return [f.invalid(path, new_deadline, f"must be between 0 and {MAX_INT32}, inclusive")]
    if old_deadline is not None and old_deadline < new_deadline:
        return [f.invalid(path, new_deadline, "must be less than or equal to previous value")]
    return []


def _without_nulls(value: Any) -> Any:
    """Compare specs as Go would: a null or absent field is the same zero value."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
