"""The pod create path's shortcuts give the answers of the straightforward rules they replaced.

``validation/pod.py`` renders field paths only when it reports an error, checks enums and names
only when a value is not one of the common good ones, looks at a volume's own keys instead of all
thirty sources, and compares quantities by sign; ``meta.py`` wraps name-check messages only when
there are some. The rules as they were before (eager paths, every check every time) are kept
below as the oracle, and both run on a corpus of invalid pods that trips every rule of
``pod_spec`` and every label/annotation rule: same causes (type, message, field) in the same order.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from create_path_corpus import checkout_pod

from kubeplane.machinery import defaults
from kubeplane.machinery.defaults._util import minor_at_least
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import meta, names, pod, quantity
from kubeplane.machinery.validation._access import JSON, integer, lst, obj, objs, str_map, text

# -- the oracle: the rules before the shortcuts -----------------------------------------------------


def _reference_labels(path: str, values: dict[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    for k, v in values.items():
        causes += f.invalid_all(path, k, names.qualified_name(k))
        causes += f.invalid_all(path, v, names.label_value(v))
    return causes


def _reference_annotations(path: str, values: dict[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for k, v in values.items():
        # Annotation keys are checked case-insensitively, as upstream lowercases them first.
        causes += f.invalid_all(path, k, names.qualified_name(k.lower()))
        total += len(k.encode()) + len(v.encode())
    if total > meta.TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(f.too_long(path, meta.TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


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
        sources = [s for s in pod.VOLUME_SOURCES if vol.get(s) is not None]
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
        causes += f.one_of(f.child(port_path, "protocol"), port.get("protocol"), pod.PROTOCOLS)
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
            causes += _reference_port_reference(f.child(path, action, "port"), holder[action].get("port"))
    return causes


def _reference_port_reference(path: str, port: Any) -> list[Cause]:
    """An IntOrString naming a container port: a valid number or a valid IANA port name."""
    if isinstance(port, bool) or port is None:
        return [f.required(path)]
    if isinstance(port, int):
        return f.invalid_all(path, port, names.port_number(port))
    if isinstance(port, str):
        return f.invalid_all(path, port, names.port_name(port))
    return []


def _probe(path: str, probe: JSON, single_success: bool) -> list[Cause]:
    causes = _handler(path, probe, pod.PROBE_HANDLERS)
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
    causes += f.one_of(f.child(path, "imagePullPolicy"), ctr.get("imagePullPolicy"), pod.PULL_POLICIES)
    causes += f.one_of(f.child(path, "terminationMessagePolicy"), ctr.get("terminationMessagePolicy"),
                       pod.TERMINATION_MESSAGE_POLICIES)
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
            causes += _handler(f.child(path, "lifecycle", hook), lifecycle[hook], pod.LIFECYCLE_HANDLERS)
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
        causes += f.one_of(f.child(tol_path, "operator"), operator, pod.TOLERATION_OPERATORS, required_when_empty=False)
        if operator == "Exists" and text(toleration, "value"):
            causes.append(f.invalid(f.child(tol_path, "operator"), toleration["value"],
                                    "value must be empty when `operator` is 'Exists'"))
        if not key and operator != "Exists":
            causes.append(f.invalid(f.child(tol_path, "operator"), operator,
                                    "operator must be Exists when `key` is empty, which means \"match all values "
                                    "and all keys\""))
        causes += f.one_of(f.child(tol_path, "effect"), toleration.get("effect"), pod.TAINT_EFFECTS,
                           required_when_empty=False)
    return causes


def _reference_pod_spec(path: str, spec: JSON, minor: str) -> list[Cause]:
    volume_causes, volumes = _volumes(f.child(path, "volumes"), spec)
    causes = volume_causes + _containers(path, spec, volumes, minor)
    causes += f.one_of(f.child(path, "restartPolicy"), spec.get("restartPolicy"), pod.RESTART_POLICIES)
    dns_policy = spec.get("dnsPolicy")
    causes += f.one_of(f.child(path, "dnsPolicy"), dns_policy, pod.DNS_POLICIES)
    if dns_policy == "None" and not isinstance(spec.get("dnsConfig"), dict):
        causes.append(f.required(f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    causes += _reference_labels(f.child(path, "nodeSelector"), str_map(spec, "nodeSelector"))
    for key, check in (("serviceAccountName", names.dns1123_subdomain), ("nodeName", names.dns1123_subdomain),
                       ("hostname", names.dns1123_label), ("subdomain", names.dns1123_label),
                       ("schedulerName", names.dns1123_subdomain),
                       ("priorityClassName", names.dns1123_subdomain)):
        value = text(spec, key)
        if value:
            causes += f.invalid_all(f.child(path, key), value, check(value))
    deadline = integer(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= pod.MAX_INT32:
        causes.append(f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                                f"must be between 1 and {pod.MAX_INT32}, inclusive"))
    causes += _tolerations(f.child(path, "tolerations"), spec)
    return causes


# -- the corpus ------------------------------------------------------------------------------------

DELETE = object()


def _rich_spec() -> JSON:
    """The bench pod's spec plus what it lacks: a sidecar with hooks and a startup probe, every
    volume source that has rules of its own, host ports, secret env and scheduling fields."""
    pod_ = checkout_pod()
    spec: JSON = pod_["spec"]
    app = spec["containers"][0]
    app["ports"][0]["hostPort"] = 8080
    app["env"].append({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    app["resources"] = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}}
    app["readinessProbe"]["successThreshold"] = 2
    app["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    spec["initContainers"].append({
        "name": "proxy", "image": "envoy", "restartPolicy": "Always",
        "startupProbe": {"grpc": {"port": 9000}, "successThreshold": 1},
        "lifecycle": {"postStart": {"exec": {"command": ["true"]}},
                      "preStop": {"httpGet": {"port": "admin", "scheme": "HTTPS"}}}})
    spec["volumes"] += [{"name": "secret", "secret": {"secretName": "s", "defaultMode": 0o400}},
                        {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "host", "hostPath": {"path": "/var/log"}},
                        {"name": "info", "downwardAPI": {"defaultMode": 0o644, "items": []}},
                        {"name": "token", "projected": {"sources": []}}]
    spec["tolerations"].append({"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"})
    spec.update(restartPolicy="Always", dnsPolicy="None", dnsConfig={"nameservers": ["198.19.0.10"]},
                serviceAccountName="checkout", nodeName="ip-198-18-0-10.ec2.internal", hostname="checkout-0",
                subdomain="checkout", schedulerName="default-scheduler", priorityClassName="high",
                activeDeadlineSeconds=600)
    defaults.apply("", "v1", "Pod", pod_)  # as the API server does before validating
    return spec


def _edit(spec: JSON, edits: dict[str, Any]) -> JSON:
    """``spec`` with values set at dotted paths (list indexes as numbers); ``DELETE`` removes."""
    for dotted, value in edits.items():
        *parents, last = [int(step) if step.isdigit() else step for step in dotted.split(".")]
        holder: Any = spec
        for step in parents:
            holder = holder[step]
        if value is DELETE:
            del holder[last]
        elif isinstance(holder, list) and last == len(holder):
            holder.append(copy.deepcopy(value))
        else:
            holder[last] = copy.deepcopy(value)
    return spec


APP = "containers.0"
PROXY = "initContainers.1"
# Every rule pod_spec has, broken at least once; several cases break more than one on purpose, so
# that the order of causes is compared too.
CASES: dict[str, dict[str, Any]] = {
    "volume name empty": {"volumes.0.name": ""},
    "volume name invalid": {"volumes.0.name": "Bad_Name"},
    "volume name duplicate": {"volumes.1.name": "config"},
    "volume without a source": {"volumes.1.emptyDir": DELETE},
    "volume with a null source": {"volumes.1.emptyDir": None},
    "volume with two sources": {"volumes.1.secret": {"secretName": "s"}},
    "volume with two broken sources": {"volumes.0.secret": {"defaultMode": 0o1000}, "volumes.0.configMap": {}},
    "configMap without name": {"volumes.0.configMap.name": ""},
    "secret without secretName": {"volumes.2.secret.secretName": DELETE},
    "claim without claimName": {"volumes.3.persistentVolumeClaim": {}},
    "hostPath without path": {"volumes.4.hostPath.path": ""},
    "defaultMode too big": {"volumes.2.secret.defaultMode": 0o1000},
    "defaultMode negative": {"volumes.5.downwardAPI.defaultMode": -1},
    "projected defaultMode": {"volumes.6.projected.defaultMode": 4096},
    "port name invalid": {f"{APP}.ports.0.name": "Bad_Name"},
    "port name too long": {f"{APP}.ports.0.name": "averyverylongportname"},
    "port name duplicate": {f"{APP}.ports.1.name": "http"},
    "containerPort missing": {f"{APP}.ports.0.containerPort": DELETE},
    "containerPort zero": {f"{APP}.ports.0.containerPort": 0},
    "containerPort too big": {f"{APP}.ports.0.containerPort": 70000},
    "hostPort too big": {f"{APP}.ports.0.hostPort": 70000},
    "hostPort negative": {f"{APP}.ports.0.hostPort": -1},
    "protocol unsupported": {f"{APP}.ports.0.protocol": "tcp"},
    "protocol empty": {f"{APP}.ports.2.protocol": ""},
    "env name empty": {f"{APP}.env.0.name": ""},
    "env name with =": {f"{APP}.env.0.name": "A=B"},
    "env valueFrom with value": {f"{APP}.env.1.value": "x"},
    "env valueFrom empty": {f"{APP}.env.1.valueFrom": {}},
    "env valueFrom two sources": {f"{APP}.env.3.valueFrom.fieldRef": {"fieldPath": "metadata.name"}},
    "mount name empty": {f"{APP}.volumeMounts.0.name": ""},
    "mount of no volume": {f"{APP}.volumeMounts.0.name": "nope"},
    "mountPath empty": {f"{APP}.volumeMounts.0.mountPath": ""},
    "mountPath twice": {f"{APP}.volumeMounts.1": {"name": "tmp", "mountPath": "/etc/checkout"}},
    "request negative": {f"{APP}.resources.requests.cpu": "-1"},
    "limit negative": {f"{APP}.resources.limits.memory": "-2Gi", f"{APP}.resources.requests.memory": -3},
    "request above limit": {f"{APP}.resources.requests.cpu": "2", f"{APP}.resources.requests.memory": "2Gi"},
    "request above a numeric limit": {f"{APP}.resources.requests.cpu": 1.5},
    "probe without handler": {f"{APP}.readinessProbe.httpGet": DELETE},
    "probe with two handlers": {f"{APP}.livenessProbe.exec": {"command": ["true"]},
                                f"{APP}.livenessProbe.grpc": {"port": 1}},
    "probe scheme unsupported": {f"{APP}.readinessProbe.httpGet.scheme": "ftp"},
    "probe port zero": {f"{APP}.livenessProbe.tcpSocket.port": 0},
    "probe port name invalid": {f"{APP}.readinessProbe.httpGet.port": "Bad--name"},
    "probe port missing": {f"{APP}.readinessProbe.httpGet.port": DELETE},
    "probe port bool": {f"{APP}.livenessProbe.tcpSocket.port": True},
    "probe counts negative": {f"{APP}.livenessProbe.periodSeconds": -1,
                              f"{APP}.livenessProbe.terminationGracePeriodSeconds": -5},
    "liveness successThreshold": {f"{APP}.livenessProbe.successThreshold": 3},
    "startup successThreshold": {f"{PROXY}.startupProbe.successThreshold": 2},
    "hook without handler": {f"{PROXY}.lifecycle.postStart": {}},
    "hook with two handlers": {f"{APP}.lifecycle.preStop.exec": {"command": ["x"]}},
    "hook port out of range": {f"{PROXY}.lifecycle.preStop.httpGet.port": 70000},
    "hook scheme empty": {f"{PROXY}.lifecycle.preStop.httpGet.scheme": ""},
    "container name empty": {f"{APP}.name": ""},
    "container name invalid": {f"{APP}.name": "App"},
    "container name duplicate": {"containers.1.name": "app", "initContainers.0.name": "proxy"},
    "image missing": {f"{APP}.image": DELETE},
    "image with spaces": {f"{APP}.image": " nginx "},
    "pull policy unsupported": {f"{APP}.imagePullPolicy": "Sometimes"},
    "pull policy empty": {f"{APP}.imagePullPolicy": ""},
    "termination message policy": {f"{APP}.terminationMessagePolicy": "Stdout"},
    "init container with probes": {"initContainers.0.livenessProbe": {"exec": {"command": ["x"]}},
                                   "initContainers.0.lifecycle": {}},
    "no containers": {"containers": []},
    "toleration key invalid": {"tolerations.1.key": "bad key"},
    "toleration operator unsupported": {"tolerations.1.operator": "In"},
    "toleration Exists with value": {"tolerations.0.value": "x"},
    "toleration without key": {"tolerations.1.key": ""},
    "toleration effect unsupported": {"tolerations.0.effect": "Sometimes"},
    "restartPolicy unsupported": {"restartPolicy": "Sometimes"},
    "restartPolicy missing": {"restartPolicy": DELETE},
    "dnsPolicy unsupported": {"dnsPolicy": "Cluster"},
    "dnsPolicy None without dnsConfig": {"dnsConfig": DELETE},
    "nodeSelector invalid": {"nodeSelector": {"bad key": "ok", "ok": "bad value!", "n": 1}},
    "names invalid": {"serviceAccountName": "Checkout", "nodeName": "-node", "hostname": "a.b", "subdomain": "A",
                      "schedulerName": "x_y", "priorityClassName": "."},
    "activeDeadlineSeconds zero": {"activeDeadlineSeconds": 0},
    "activeDeadlineSeconds too big": {"activeDeadlineSeconds": 2**31},
}


def _outcome(check: Any, *args: Any) -> Any:
    """The causes as comparable tuples, or the exception a check raised (odd input must match too)."""
    try:
        return [(c.type, c.message, c.field) for c in check(*args)]
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_rule_reports_what_the_plain_rules_reported(case: str) -> None:
    spec = _edit(_rich_spec(), CASES[case])
    expected = _outcome(_reference_pod_spec, "spec", copy.deepcopy(spec), "1.35")
    assert expected, f"the case breaks no rule: {case}"
    assert _outcome(pod.pod_spec, "spec", spec, "1.35") == expected
    # The same spec in a pod template reports the same causes under the template's path.
    assert (_outcome(pod.pod_spec, "spec.template.spec", copy.deepcopy(spec), "1.33")
            == _outcome(_reference_pod_spec, "spec.template.spec", copy.deepcopy(spec), "1.33"))


def test_the_rich_spec_is_valid_by_both() -> None:
    assert _outcome(pod.pod_spec, "spec", _rich_spec(), "1.35") == []
    assert _outcome(_reference_pod_spec, "spec", _rich_spec(), "1.35") == []


_ODD = [None, "", 0, -1, 1, 2, 70000, 0o1000, True, False, 1.5, "Bad_Name", " x ", "a" * 70, "a=b", "1BAD",
        "http", "Exists", "Always", "TCP", "HTTPS", "NoExecute", "-1", "100m", "2Gi", "bogus", "config", "/tmp",
        {}, [], {"path": "/x"}, {"name": "x"}, {"port": 0}, [{"name": "x"}]]
# Keys the rules look at, so that random edits add them where they matter.
_KEYS = ["secret", "configMap", "emptyDir", "projected", "hostPath", "persistentVolumeClaim", "downwardAPI",
         "name", "image", "hostPort", "containerPort", "protocol", "valueFrom", "value", "fieldRef", "lifecycle",
         "postStart", "preStop", "exec", "httpGet", "tcpSocket", "grpc", "sleep", "port", "scheme",
         "livenessProbe", "readinessProbe", "startupProbe", "successThreshold", "periodSeconds", "restartPolicy",
         "dnsPolicy", "key", "operator", "effect", "defaultMode", "secretName", "claimName", "path", "mountPath",
         "limits", "requests", "cpu", "memory", "nodeName", "activeDeadlineSeconds", "nodeSelector"]


def _containers_of(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers_of(child, found)
    return found


def _randomly_broken(rng: random.Random, spec: JSON) -> JSON:
    for _ in range(rng.randint(1, 4)):
        target = rng.choice(_containers_of(spec, []))
        if isinstance(target, dict):
            if target and rng.random() < 0.5:
                key = rng.choice(list(target))
                if rng.random() < 0.3:
                    del target[key]
                    continue
            else:
                key = rng.choice(_KEYS)
            target[key] = copy.deepcopy(rng.choice(_ODD))
        elif target:
            i = rng.randrange(len(target))
            roll = rng.random()
            if roll < 0.3:
                target.append(copy.deepcopy(target[i]))
            elif roll < 0.6:
                del target[i]
            else:
                target[i] = copy.deepcopy(rng.choice(_ODD))
    return spec


@pytest.mark.parametrize("seed", range(4))
def test_randomly_broken_specs_get_the_same_causes(seed: int) -> None:
    rng = random.Random(seed)
    invalid = 0
    for i in range(250):
        spec = _randomly_broken(rng, _rich_spec())
        minor = "1.33" if i % 3 == 0 else "1.35"  # before 1.34 env names are C identifiers
        expected = _outcome(_reference_pod_spec, "spec", copy.deepcopy(spec), minor)
        assert _outcome(pod.pod_spec, "spec", spec, minor) == expected, spec
        invalid += bool(expected)
    assert invalid > 50  # the comparison must be about invalid specs (most edits are harmless)


def test_labels_and_annotations_report_what_the_plain_rules_reported() -> None:
    values: dict[str, str] = {"app": "ok", "bad key": "v", "k": "bad value!", "Example.com/Upper": "x",
                              "a/b/c": "", "x" * 64: "y" * 64, "": "", "ok.example.com/n": "-v-"}
    for path in ("metadata.labels", "spec.nodeSelector"):
        assert _outcome(meta.validate_labels, path, values) == _outcome(_reference_labels, path, values)
        assert _outcome(meta.validate_labels, path, values)
    assert (_outcome(meta.validate_annotations, "metadata.annotations", values)
            == _outcome(_reference_annotations, "metadata.annotations", values))
    huge = {"a": "x" * (meta.TOTAL_ANNOTATION_SIZE_LIMIT + 1), "Bad Key": "v"}
    assert (_outcome(meta.validate_annotations, "metadata.annotations", huge)
            == _outcome(_reference_annotations, "metadata.annotations", huge))
    assert [c[0] for c in _outcome(meta.validate_annotations, "metadata.annotations", huge)] == [
        f.INVALID, f.TOO_LONG]


@pytest.mark.parametrize("port", [None, True, False, 0, 1, 65535, 65536, -1, "", "http", "Bad_Name", "a--b",
                                  "averyverylongportname", "123", 1.5, {}, []])
def test_the_port_reference_shortcut_agrees_with_the_rule(port: Any) -> None:
    assert pod._valid_port_reference(port) == (pod.port_reference("p", port) == [])
    assert pod.port_reference("p", port) == _reference_port_reference("p", port)
