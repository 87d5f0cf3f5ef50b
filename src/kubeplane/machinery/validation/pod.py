"""Pod spec rules (upstream pkg/apis/core/validation: ValidatePodSpec and ValidatePodUpdate).

``pod_spec`` is shared by Pods and by every workload's pod template; callers pass the path prefix
(``spec`` or ``spec.template.spec``) so causes name the field as upstream does.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.defaults._util import minor_at_least
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.objects import clone

from . import field as f
from . import meta, names, quantity
from ._access import JSON, integer, lst, obj, objs, str_map, text

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

UPDATABLE_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))


def _volumes(path: str, spec: JSON) -> tuple[list[Cause], set[str]]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, vol in objs(spec, "volumes"):
        vol_path = f.index(path, i)
        name = text(vol, "name")
        if not name:
            causes.append(f.required(f.child(vol_path, "name")))
        else:
            causes += f.invalid_all(f.child(vol_path, "name"), name, names.dns1123_label(name))
            if name in seen:
                causes.append(f.duplicate(f.child(vol_path, "name"), name))
            seen.add(name)
        sources = [s for s in VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            causes.append(f.required(vol_path, "must specify a volume type"))
        elif len(sources) > 1:
            causes.append(f.forbidden(f.child(vol_path, sources[1]), "may not specify more than 1 volume type"))
        causes += _volume_source(vol_path, vol)
    return causes, seen


def _volume_source(path: str, vol: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for source, name_key in (("secret", "secretName"), ("configMap", "name"),
                             ("persistentVolumeClaim", "claimName"), ("hostPath", "path")):
        if isinstance(vol.get(source), dict) and not text(vol[source], name_key):
            causes.append(f.required(f.child(path, source, name_key)))
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        mode = integer(obj(vol, source), "defaultMode")
        if mode is not None and not 0 <= mode <= 0o777:
            causes.append(f.invalid(f.child(path, source, "defaultMode"), mode,
                                    "must be a number between 0 and 0777 (octal), both inclusive"))
    return causes


def _ports(path: str, ctr: JSON) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in objs(ctr, "ports"):
        port_path = f.index(path, i)
        name = text(port, "name")
        if name:
            name_errors = names.port_name(name)
            causes += f.invalid_all(f.child(port_path, "name"), name, name_errors)
            if not name_errors and name in seen:
                causes.append(f.duplicate(f.child(port_path, "name"), name))
            seen.add(name)
        number = integer(port, "containerPort")
        if not number:
            causes.append(f.required(f.child(port_path, "containerPort")))
        else:
            causes += f.invalid_all(f.child(port_path, "containerPort"), number, names.port_number(number))
        host_port = integer(port, "hostPort")
        if host_port:
            causes += f.invalid_all(f.child(port_path, "hostPort"), host_port, names.port_number(host_port))
        causes += f.one_of(f.child(port_path, "protocol"), port.get("protocol"), PROTOCOLS)
    return causes


def _env(path: str, ctr: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    relaxed = minor_at_least(minor, (1, 34))  # RelaxedEnvironmentVariableValidation GA
    for i, env in objs(ctr, "env"):
        env_path = f.index(path, i)
        name = text(env, "name")
        if not name:
            causes.append(f.required(f.child(env_path, "name")))
        else:
            causes += f.invalid_all(f.child(env_path, "name"), name, names.env_var_name(name, relaxed))
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict):
            if text(env, "value"):
                causes.append(f.invalid(f.child(env_path, "valueFrom"), "",
                                        "may not be specified when `value` is not empty"))
            sources = [k for k, v in value_from.items() if v is not None]
            if not sources:
                causes.append(f.invalid(f.child(env_path, "valueFrom"), "",
                                        "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                        "`configMapKeyRef` or `secretKeyRef`"))
            elif len(sources) > 1:
                causes.append(f.invalid(f.child(env_path, "valueFrom"), "",
                                        "may not have more than one field specified at a time"))
    return causes


def _volume_mounts(path: str, ctr: JSON, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    mount_points: set[str] = set()
    for i, mount in objs(ctr, "volumeMounts"):
        mount_path = f.index(path, i)
        name = text(mount, "name")
        if not name:
            causes.append(f.required(f.child(mount_path, "name")))
        elif name not in volumes:
            causes.append(f.not_found(f.child(mount_path, "name"), name))
        target = text(mount, "mountPath")
        if not target:
            causes.append(f.required(f.child(mount_path, "mountPath")))
        elif target in mount_points:
            causes.append(f.invalid(f.child(mount_path, "mountPath"), target, "must be unique"))
        mount_points.add(target)
    return causes


def _resources(path: str, ctr: JSON) -> list[Cause]:
    resources = obj(ctr, "resources")
    causes: list[Cause] = []
    limits, requests = obj(resources, "limits"), obj(resources, "requests")
    for part, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            parsed = quantity.parse(value)
            if parsed is not None and parsed < 0:
                causes.append(f.invalid(f.key(f.child(path, part), name), str(value),
                                        "must be greater than or equal to 0"))
    for name, request in requests.items():
        req_value, limit_value = quantity.parse(request), quantity.parse(limits.get(name))
        if req_value is not None and limit_value is not None and req_value > limit_value:
            causes.append(f.invalid(f.key(f.child(path, "requests"), name), str(request),
                                    f"must be less than or equal to {name} limit of {limits[name]}"))
    return causes


def _handler(path: str, holder: JSON, handler_names: tuple[str, ...]) -> list[Cause]:
    present = [h for h in handler_names if holder.get(h) is not None]
    if not present:
        return [f.required(path, "must specify a handler type")]
    if len(present) > 1:
        return [f.forbidden(f.child(path, present[1]), "may not specify more than 1 handler type")]
    http_get = obj(holder, "httpGet")
    causes: list[Cause] = []
    if http_get:
        causes += f.one_of(f.child(path, "httpGet", "scheme"), http_get.get("scheme"), ("HTTP", "HTTPS"))
    for action in ("httpGet", "tcpSocket"):
        if isinstance(holder.get(action), dict):
            causes += port_reference(f.child(path, action, "port"), holder[action].get("port"))
    return causes


def port_reference(path: str, port: Any) -> list[Cause]:
    """An IntOrString naming a container port: a valid number or a valid IANA port name."""
    if isinstance(port, bool) or port is None:
        return [f.required(path)]
    if isinstance(port, int):
        return f.invalid_all(path, port, names.port_number(port))
    if isinstance(port, str):
        return f.invalid_all(path, port, names.port_name(port))
    return []


def _probe(path: str, probe: JSON, single_success: bool) -> list[Cause]:
    causes = _handler(path, probe, PROBE_HANDLERS)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold", "terminationGracePeriodSeconds"):
        causes += f.nonnegative(f.child(path, key), probe.get(key))
    success = integer(probe, "successThreshold")
    if single_success and success is not None and success != 1:
        causes.append(f.invalid(f.child(path, "successThreshold"), success, "must be 1"))
    return causes


def _container(path: str, ctr: JSON, volumes: set[str], minor: str) -> list[Cause]:
    causes: list[Cause] = []
    name = text(ctr, "name")
    if not name:
        causes.append(f.required(f.child(path, "name")))
    else:
        causes += f.invalid_all(f.child(path, "name"), name, names.dns1123_label(name))
    image = text(ctr, "image")
    if not image:
        causes.append(f.required(f.child(path, "image")))
    elif image != image.strip():
        causes.append(f.invalid(f.child(path, "image"), image, "must not have leading or trailing whitespace"))
    causes += f.one_of(f.child(path, "imagePullPolicy"), ctr.get("imagePullPolicy"), PULL_POLICIES)
    causes += f.one_of(f.child(path, "terminationMessagePolicy"), ctr.get("terminationMessagePolicy"),
                       TERMINATION_MESSAGE_POLICIES)
    causes += _ports(f.child(path, "ports"), ctr)
    causes += _env(f.child(path, "env"), ctr, minor)
    causes += _volume_mounts(f.child(path, "volumeMounts"), ctr, volumes)
    causes += _resources(f.child(path, "resources"), ctr)
    for probe_key, single_success in (("livenessProbe", True), ("readinessProbe", False), ("startupProbe", True)):
        probe = ctr.get(probe_key)
        if isinstance(probe, dict):
            causes += _probe(f.child(path, probe_key), probe, single_success)
    lifecycle = obj(ctr, "lifecycle")
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            causes += _handler(f.child(path, "lifecycle", hook), lifecycle[hook], LIFECYCLE_HANDLERS)
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
        for i, ctr in objs(spec, key):
            ctr_path = f.index(f.child(path, key), i)
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
    for i, toleration in objs(spec, "tolerations"):
        tol_path = f.index(path, i)
        key = text(toleration, "key")
        if key:
            causes += f.invalid_all(f.child(tol_path, "key"), key, names.qualified_name(key))
        operator = text(toleration, "operator")
        causes += f.one_of(f.child(tol_path, "operator"), operator, TOLERATION_OPERATORS, required_when_empty=False)
        if operator == "Exists" and text(toleration, "value"):
            causes.append(f.invalid(f.child(tol_path, "operator"), toleration["value"],
                                    "value must be empty when `operator` is 'Exists'"))
        if not key and operator != "Exists":
            causes.append(f.invalid(f.child(tol_path, "operator"), operator,
                                    "operator must be Exists when `key` is empty, which means \"match all values "
                                    "and all keys\""))
        causes += f.one_of(f.child(tol_path, "effect"), toleration.get("effect"), TAINT_EFFECTS,
                           required_when_empty=False)
    return causes


def pod_spec(path: str, spec: JSON, minor: str) -> list[Cause]:
    volume_causes, volumes = _volumes(f.child(path, "volumes"), spec)
    causes = volume_causes + _containers(path, spec, volumes, minor)
    causes += f.one_of(f.child(path, "restartPolicy"), spec.get("restartPolicy"), RESTART_POLICIES)
    dns_policy = spec.get("dnsPolicy")
    causes += f.one_of(f.child(path, "dnsPolicy"), dns_policy, DNS_POLICIES)
    if dns_policy == "None" and not isinstance(spec.get("dnsConfig"), dict):
        causes.append(f.required(f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    causes += meta.validate_labels(f.child(path, "nodeSelector"), str_map(spec, "nodeSelector"))
    for key, check in (("serviceAccountName", names.dns1123_subdomain), ("nodeName", names.dns1123_subdomain),
                       ("hostname", names.dns1123_label), ("subdomain", names.dns1123_label),
                       ("schedulerName", names.dns1123_subdomain),
                       ("priorityClassName", names.dns1123_subdomain)):
        value = text(spec, key)
        if value:
            causes += f.invalid_all(f.child(path, key), value, check(value))
    deadline = integer(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        causes.append(f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                                f"must be between 1 and {MAX_INT32}, inclusive"))
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
