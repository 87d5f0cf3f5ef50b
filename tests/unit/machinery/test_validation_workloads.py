"""Workload validation: selectors, templates, strategies, and update immutability."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplane.machinery import defaults, validation


def _template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1"}]}
    body.update(spec)
    return {"metadata": {"labels": labels if labels is not None else {"app": "x"}}, "spec": body}


def _workload(group: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    obj = {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": "w", "namespace": "default"}, "spec": spec}
    defaults.apply(group, "v1", kind, obj)
    return obj


def _causes(group: str, kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_create(group, "v1", kind, obj)]


SELECTOR = {"matchLabels": {"app": "x"}}


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_valid_apps_workloads(kind: str) -> None:
    assert _causes("apps", kind, _workload("apps", kind, {"selector": SELECTOR, "template": _template()})) == []


@pytest.mark.parametrize(("kind", "word"), [("Deployment", "deployment"), ("ReplicaSet", "deployment"),
                                            ("StatefulSet", "statefulset"), ("DaemonSet", "daemonset")])
def test_empty_selector(kind: str, word: str) -> None:
    obj = _workload("apps", kind, {"selector": {}, "template": _template()})
    assert ("spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
            f"empty selector is invalid for {word}") in _causes("apps", kind, obj)


def test_selector_required_and_must_match_template() -> None:
    missing = _workload("apps", "Deployment", {"template": _template()})
    assert ("spec.selector", "Required value") in _causes("apps", "Deployment", missing)
    mismatch = _workload("apps", "Deployment", {"selector": {"matchLabels": {"app": "y"}}, "template": _template()})
    assert _causes("apps", "Deployment", mismatch) == [
        ("spec.template.metadata.labels",
         'Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`')]


def test_match_expressions() -> None:
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "z"]}]}
    ok = _workload("apps", "Deployment", {"selector": selector, "template": _template()})
    assert _causes("apps", "Deployment", ok) == []
    selector = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    bad = _workload("apps", "Deployment", {"selector": selector, "template": _template()})
    assert ("spec.selector.matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'") in _causes("apps", "Deployment", bad)


def test_template_restart_policy_and_pod_rules_use_template_paths() -> None:
    obj = _workload("apps", "Deployment", {"selector": SELECTOR, "template": _template(
        restartPolicy="Never", containers=[{"name": "c"}])})
    causes = _causes("apps", "Deployment", obj)
    assert ("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"') in causes
    assert ("spec.template.spec.containers[0].image", "Required value") in causes


def test_negative_replicas() -> None:
    obj = _workload("apps", "Deployment", {"replicas": -1, "selector": SELECTOR, "template": _template()})
    assert _causes("apps", "Deployment", obj) == [
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")]


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "Blue"}, ("spec.strategy.type", 'Unsupported value: "Blue": supported values: "Recreate", "RollingUpdate"')),
    ({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
     ("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'")),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
     ("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0")),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "150%"}},
     ("spec.strategy.rollingUpdate.maxSurge", 'Invalid value: "150%": must not be greater than 100%')),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}},
     ("spec.strategy.rollingUpdate.maxSurge",
      "Invalid value: \"lots\": a valid percent string must be a numeric string followed by an ending '%' "
      "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
])
def test_deployment_strategy(strategy: dict[str, Any], expected: tuple[str, str]) -> None:
    obj = _workload("apps", "Deployment", {"selector": SELECTOR, "template": _template(), "strategy": strategy})
    assert expected in _causes("apps", "Deployment", obj)


def test_selector_is_immutable() -> None:
    old = _workload("apps", "Deployment", {"selector": SELECTOR, "template": _template()})
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "x", "tier": "web"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    causes = [(c.field, c.message) for c in validation.validate_update("apps", "v1", "Deployment", new, old)]
    assert causes == [("spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x", '
                       '"tier":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')]


def test_update_revalidates_the_new_object() -> None:
    old = _workload("apps", "Deployment", {"selector": SELECTOR, "template": _template()})
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = -3
    causes = [(c.field, c.message) for c in validation.validate_update("apps", "v1", "Deployment", new, old)]
    assert causes == [("spec.replicas", "Invalid value: -3: must be greater than or equal to 0")]


def test_stateful_set_update_forbids_other_spec_fields() -> None:
    old = _workload("apps", "StatefulSet", {"selector": SELECTOR, "template": _template(), "serviceName": "a"})
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert validation.validate_update("apps", "v1", "StatefulSet", new, old) == []
    new["spec"]["serviceName"] = "b"
    [cause] = validation.validate_update("apps", "v1", "StatefulSet", new, old)
    assert (cause.field, cause.message) == ("spec", "Forbidden: updates to statefulset spec for fields other than "
                                            "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")


def test_job_restart_policy() -> None:
    job = _workload("batch", "Job", {"template": _template()})  # pod defaults give Always
    assert _causes("batch", "Job", job) == [
        ("spec.template.spec.restartPolicy", 'Unsupported value: "Always": supported values: "OnFailure", "Never"')]
    ok = _workload("batch", "Job", {"template": _template(restartPolicy="Never")})
    assert _causes("batch", "Job", ok) == []


def test_job_template_is_immutable_unless_suspended() -> None:
    old = _workload("batch", "Job", {"template": _template(restartPolicy="Never")})
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert [c.field for c in validation.validate_update("batch", "v1", "Job", new, old)] == ["spec.template"]
    new["spec"]["suspend"] = True
    assert validation.validate_update("batch", "v1", "Job", new, old) == []


def test_replication_controller() -> None:
    rc = _workload("", "ReplicationController", {"template": _template()})
    rc["apiVersion"] = "v1"
    assert _causes("", "ReplicationController", rc) == []
    rc["spec"]["selector"] = {"app": "other"}
    assert _causes("", "ReplicationController", rc) == [
        ("spec.template.metadata.labels",
         'Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`')]


def _cron(schedule: str, **spec: Any) -> dict[str, Any]:
    body = {"schedule": schedule, "jobTemplate": {"spec": {"template": _template(restartPolicy="OnFailure")}}}
    body.update(spec)
    return _workload("batch", "CronJob", body)


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 1 1 *", "@hourly", "@every 1h30m", "0 9 * * mon-fri",
                                      "15,45 8-18/2 * jan *"])
def test_valid_cron_schedules(schedule: str) -> None:
    assert _causes("batch", "CronJob", _cron(schedule)) == []


@pytest.mark.parametrize(("schedule", "detail"), [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("CRON_TZ=UTC * * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
])
def test_invalid_cron_schedules(schedule: str, detail: str) -> None:
    assert _causes("batch", "CronJob", _cron(schedule)) == [
        ("spec.schedule", f'Invalid value: "{schedule}": {detail}')]


def test_cron_time_zone_and_policy() -> None:
    assert _causes("batch", "CronJob", _cron("* * * * *", timeZone="Europe/Paris")) == []
    assert _causes("batch", "CronJob", _cron("* * * * *", timeZone="Mars/Olympus")) == [
        ("spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus')]
    assert _causes("batch", "CronJob", _cron("* * * * *", concurrencyPolicy="Sometimes")) == [
        ("spec.concurrencyPolicy",
         'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"')]


def test_cron_job_template_uses_job_rules() -> None:
    cron = _cron("* * * * *")
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert [f for f, _ in _causes("batch", "CronJob", cron)] == ["spec.jobTemplate.spec.template.spec.restartPolicy"]
