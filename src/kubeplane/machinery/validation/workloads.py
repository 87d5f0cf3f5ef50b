"""apps/v1, batch/v1 and ReplicationController rules (upstream pkg/apis/{apps,batch}/validation)."""

from __future__ import annotations

from kubeplane.machinery.errors import Cause

from . import cron, intstr, meta, pod, selectors
from . import field as f
from ._access import JSON, integer, obj, str_map, text

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
STATEFULSET_UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy",
                         "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _template(path: str, template: JSON, selector: JSON | None, minor: str,
              restart_policies: tuple[str, ...], owner: str) -> list[Cause]:
    """A pod template checked against its controller's selector and allowed restart policies."""
    labels = str_map(obj(template, "metadata"), "labels")
    causes: list[Cause] = []
    if selector is not None and not selectors.is_empty(selector) and not selectors.matches(selector, labels):
        causes.append(f.invalid(f.child(path, "metadata", "labels"), labels, SELECTOR_MISMATCH))
    causes += meta.validate_labels(f.child(path, "metadata", "labels"), labels)
    spec = obj(template, "spec")
    spec_path = f.child(path, "spec")
    causes += pod.template_pod_spec(spec_path, spec, minor)
    restart = spec.get("restartPolicy")
    if restart not in (None, "") and restart not in restart_policies:
        causes.append(f.not_supported(f.child(spec_path, "restartPolicy"), restart, restart_policies))
    if owner and spec.get("activeDeadlineSeconds") is not None:
        causes.append(f.forbidden(f.child(spec_path, "activeDeadlineSeconds"),
                                  f"activeDeadlineSeconds in {owner} is not Supported"))
    return causes


def _selector(spec: JSON, kind_word: str, required: bool = True) -> tuple[list[Cause], JSON | None]:
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return ([f.required("spec.selector")] if required else []), None
    causes = selectors.validate("spec.selector", selector)
    if selectors.is_empty(selector):
        causes.append(f.invalid("spec.selector", selectors.go_repr(selector),
                                f"empty selector is invalid for {kind_word}"))
    return causes, selector


def _counts(spec: JSON, *keys: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in keys:
        causes += f.nonnegative(f.child("spec", key), spec.get(key))
    return causes


def _replicated(obj_: JSON, minor: str, kind_word: str, owner: str) -> tuple[JSON, list[Cause]]:
    spec = obj(obj_, "spec")
    causes, selector = _selector(spec, kind_word)
    causes += _counts(spec, "replicas", "minReadySeconds", "revisionHistoryLimit")
    template = spec.get("template")
    if isinstance(template, dict):
        causes += _template("spec.template", template, selector, minor, ("Always",), owner)
    return spec, causes


def _rolling_update(path: str, rolling: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("maxUnavailable", "maxSurge"):
        value = rolling.get(key)
        if value is not None:
            causes += intstr.positive_int_or_percent(f.child(path, key), value)
            causes += intstr.not_more_than_100_percent(f.child(path, key), value)
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    if unavailable is not None and surge is not None and intstr.is_zero(unavailable) and intstr.is_zero(surge):
        causes.append(f.invalid(f.child(path, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
    return causes


def _strategy(path: str, strategy: JSON, recreate_type: str) -> list[Cause]:
    kind = strategy.get("type")
    causes = f.one_of(f.child(path, "type"), kind, (recreate_type, "RollingUpdate"))
    rolling = strategy.get("rollingUpdate")
    if kind == recreate_type and rolling is not None:
        causes.append(f.forbidden(f.child(path, "rollingUpdate"),
                                  f"may not be specified when strategy `type` is '{recreate_type}'"))
    elif isinstance(rolling, dict):
        causes += _rolling_update(f.child(path, "rollingUpdate"), rolling)
    return causes


def deployment(obj_: JSON, minor: str) -> list[Cause]:
    spec, causes = _replicated(obj_, minor, "deployment", "ReplicaSet")
    causes += _counts(spec, "progressDeadlineSeconds")
    causes += _strategy("spec.strategy", obj(spec, "strategy"), "Recreate")
    deadline, min_ready = integer(spec, "progressDeadlineSeconds"), integer(spec, "minReadySeconds") or 0
    if deadline is not None and deadline <= min_ready:
        causes.append(f.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return causes


def replica_set(obj_: JSON, minor: str) -> list[Cause]:
    return _replicated(obj_, minor, "deployment", "ReplicaSet")[1]


def daemon_set(obj_: JSON, minor: str) -> list[Cause]:
    spec, causes = _replicated(obj_, minor, "daemonset", "DaemonSet")
    causes += _strategy("spec.updateStrategy", obj(spec, "updateStrategy"), "OnDelete")
    return causes


def stateful_set(obj_: JSON, minor: str) -> list[Cause]:
    spec, causes = _replicated(obj_, minor, "statefulset", "")
    policy = spec.get("podManagementPolicy")
    if policy not in (None, "OrderedReady", "Parallel"):
        causes.append(f.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = obj(spec, "updateStrategy")
    strategy_type = strategy.get("type")
    if strategy_type not in (None, "RollingUpdate", "OnDelete"):
        causes.append(f.invalid("spec.updateStrategy", strategy_type, "must be 'RollingUpdate' or 'OnDelete'"))
    if strategy_type == "OnDelete" and strategy.get("rollingUpdate") is not None:
        causes.append(f.invalid("spec.updateStrategy.rollingUpdate", strategy_type,
                                "only allowed for updateStrategy 'RollingUpdate'"))
    partition = obj(strategy, "rollingUpdate").get("partition")
    causes += f.nonnegative("spec.updateStrategy.rollingUpdate.partition", partition)
    return causes


def replication_controller(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    selector = str_map(spec, "selector")
    causes = meta.validate_labels("spec.selector", selector)
    if not selector:
        causes.append(f.required("spec.selector"))
    causes += _counts(spec, "replicas", "minReadySeconds")
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(f.required("spec.template"))
    else:
        causes += _template("spec.template", template, {"matchLabels": selector} if selector else None, minor,
                            ("Always",), "ReplicationController")
    return causes


def job_spec(path: str, spec: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += f.nonnegative(f.child(path, key), spec.get(key))
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes += selectors.validate(f.child(path, "selector"), selector)
    elif spec.get("manualSelector") is True:
        causes.append(f.required(f.child(path, "selector")))
    causes += f.one_of(f.child(path, "completionMode"), spec.get("completionMode"), ("NonIndexed", "Indexed"),
                       required_when_empty=False)
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        causes.append(f.required(f.child(path, "completions"),
                                 "when completion mode is Indexed"))
    template = obj(spec, "template")
    template_selector = selector if isinstance(selector, dict) else None
    causes += _template(f.child(path, "template"), template, template_selector, minor, ("OnFailure", "Never"), "")
    return causes


def job(obj_: JSON, minor: str) -> list[Cause]:
    return job_spec("spec", obj(obj_, "spec"), minor)


def cron_job(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes: list[Cause] = []
    name = text(obj(obj_, "metadata"), "name")
    if len(name) > 52:
        # Jobs get an 11-character suffix and their names must stay DNS-1035 labels.
        causes.append(f.invalid("metadata.name", name, "must be no more than 52 characters"))
    schedule = text(spec, "schedule")
    if not schedule:
        causes.append(f.required("spec.schedule"))
    elif "TZ" in schedule:
        causes.append(f.invalid("spec.schedule", schedule,
                                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    else:
        error = cron.schedule_error(schedule)
        if error:
            causes.append(f.invalid("spec.schedule", schedule, error))
    time_zone = spec.get("timeZone")
    if isinstance(time_zone, str):
        error = cron.time_zone_error(time_zone)
        if error:
            causes.append(f.invalid("spec.timeZone", time_zone, error))
    causes += f.one_of("spec.concurrencyPolicy", spec.get("concurrencyPolicy"), ("Allow", "Forbid", "Replace"))
    causes += _counts(spec, "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
    causes += job_spec("spec.jobTemplate.spec", obj(obj(spec, "jobTemplate"), "spec"), minor)
    return causes


def _selector_immutable(new: JSON, old: JSON) -> list[Cause]:
    new_selector, old_selector = obj(new, "spec").get("selector"), obj(old, "spec").get("selector")
    if new_selector != old_selector:
        return [f.invalid("spec.selector", selectors.go_repr(new_selector), f.FIELD_IMMUTABLE)]
    return []


def apps_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    return _selector_immutable(new, old)


def stateful_set_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    causes = _selector_immutable(new, old)
    new_spec, old_spec = obj(new, "spec"), obj(old, "spec")
    frozen = set(new_spec) | set(old_spec)
    if any(new_spec.get(k) != old_spec.get(k) for k in frozen if k not in STATEFULSET_UPDATABLE):
        listed = ", ".join(f"'{k}'" for k in STATEFULSET_UPDATABLE[:-1])
        causes.append(f.forbidden("spec", f"updates to statefulset spec for fields other than {listed} and "
                                          f"'{STATEFULSET_UPDATABLE[-1]}' are forbidden"))
    return causes


def job_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    causes = _selector_immutable(new, old)
    new_spec, old_spec = obj(new, "spec"), obj(old, "spec")
    causes += f.immutable("spec.completionMode", new_spec.get("completionMode"), old_spec.get("completionMode"))
    # A suspended Job that never started may get a new template; any other Job may not.
    if new_spec.get("template") != old_spec.get("template") and new_spec.get("suspend") is not True:
        causes.append(f.invalid("spec.template", f.Rendered("core.PodTemplateSpec{...}"), f.FIELD_IMMUTABLE))
    return causes

