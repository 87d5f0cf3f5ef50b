"""Defaults for apps/v1 and batch/v1 workloads (upstream pkg/apis/{apps,batch}/v1/defaults.go)."""

from __future__ import annotations

from . import core
from . import pod as pod_defaults
from ._util import JSON, child, items, minor_at_least, setdefault, setdefault_if_empty


def _spec(obj: JSON) -> JSON | None:
    spec = child(obj, "spec")
    if spec is not None:
        pod_defaults.pod_template(child(spec, "template"))
    return spec


def deployment(obj: JSON, minor: str) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    setdefault(spec, "replicas", 1)
    strategy = child(spec, "strategy", create=True)
    if strategy is not None:
        setdefault_if_empty(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = child(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                setdefault(rolling, "maxUnavailable", "25%")
                setdefault(rolling, "maxSurge", "25%")
    setdefault(spec, "revisionHistoryLimit", 10)
    setdefault(spec, "progressDeadlineSeconds", 600)


def replica_set(obj: JSON, minor: str) -> None:
    spec = _spec(obj)
    if spec is not None:
        setdefault(spec, "replicas", 1)


def daemon_set(obj: JSON, minor: str) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    strategy = child(spec, "updateStrategy", create=True)
    if strategy is not None:
        setdefault_if_empty(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = child(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                setdefault(rolling, "maxUnavailable", 1)
                setdefault(rolling, "maxSurge", 0)
    setdefault(spec, "revisionHistoryLimit", 10)


def stateful_set(obj: JSON, minor: str) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    setdefault_if_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = child(spec, "updateStrategy", create=True)
    if strategy is not None:
        setdefault_if_empty(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = child(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                setdefault(rolling, "partition", 0)
    retention = child(spec, "persistentVolumeClaimRetentionPolicy", create=True)
    if retention is not None:
        setdefault_if_empty(retention, "whenDeleted", "Retain")
        setdefault_if_empty(retention, "whenScaled", "Retain")
    setdefault(spec, "replicas", 1)
    setdefault(spec, "revisionHistoryLimit", 10)
    for claim in items(spec, "volumeClaimTemplates"):
        core.claim_spec(child(claim, "spec"))
        status = child(claim, "status", create=True)
        if status is not None:
            setdefault_if_empty(status, "phase", "Pending")


def job_spec(spec: JSON, minor: str) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    setdefault(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        # With a per-index limit the global limit must not cut in first.
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    setdefault_if_empty(spec, "completionMode", "NonIndexed")
    setdefault(spec, "suspend", False)
    if spec.get("podReplacementPolicy") is None and minor_at_least(minor, (1, 29)):
        with_failure_policy = spec.get("podFailurePolicy") is not None
        spec["podReplacementPolicy"] = "Failed" if with_failure_policy else "TerminatingOrFailed"
    failure_policy = child(spec, "podFailurePolicy")
    if failure_policy is not None:
        for rule in items(failure_policy, "rules"):
            for pattern in items(rule, "onPodConditions"):
                setdefault_if_empty(pattern, "status", "True")


def job(obj: JSON, minor: str) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    job_spec(spec, minor)
    template = child(spec, "template")
    template_meta = child(template, "metadata") if template is not None else None
    labels = template_meta.get("labels") if template_meta is not None else None
    meta = child(obj, "metadata")
    if isinstance(labels, dict) and labels and meta is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)


def cron_job(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    setdefault_if_empty(spec, "concurrencyPolicy", "Allow")
    setdefault(spec, "suspend", False)
    setdefault(spec, "successfulJobsHistoryLimit", 3)
    setdefault(spec, "failedJobsHistoryLimit", 1)
    job_template = child(spec, "jobTemplate")
    job_template_spec = child(job_template, "spec") if job_template is not None else None
    if job_template_spec is not None:
        pod_defaults.pod_template(child(job_template_spec, "template"))
