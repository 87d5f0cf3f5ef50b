"""apps and batch printers: replica sets, deployments, stateful sets, daemon sets, revisions, jobs."""

from __future__ import annotations

from typing import Any

from .cells import (
    JSON,
    NONE,
    bool_or_unset,
    containers_and_images,
    count,
    dig,
    format_labels,
    items,
    mapping,
    name_of,
    selector_string,
    template_wide_cells,
    text,
)
from .columns import AGE, CONTAINERS_WIDE, IMAGES_WIDE, NAME, Doc, boolean, integer, selector_wide, string
from .duration import Ages, parse_timestamp
from .printer import Printer, Printers


def _template_cells(obj: JSON) -> list[Any]:
    return template_wide_cells(dig(obj, "spec", "template", "spec"), mapping(obj, "spec", "selector"))


def _replica_set(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        count(obj, "spec", "replicas"),
        count(obj, "status", "replicas"),
        count(obj, "status", "readyReplicas"),
        ages.of(obj),
        *_template_cells(obj),
    ]


def _deployment(obj: JSON, ages: Ages) -> list[Any]:
    names, images = containers_and_images(items(obj, "spec", "template", "spec", "containers"))
    return [
        name_of(obj),
        f"{count(obj, 'status', 'readyReplicas')}/{count(obj, 'spec', 'replicas')}",
        count(obj, "status", "updatedReplicas"),
        count(obj, "status", "availableReplicas"),
        ages.of(obj),
        names,
        images,
        # Unlike other workloads, deployments print the bare selector ("" when empty).
        selector_string(mapping(obj, "spec", "selector")),
    ]


def _stateful_set(obj: JSON, ages: Ages) -> list[Any]:
    names, images = containers_and_images(items(obj, "spec", "template", "spec", "containers"))
    ready = f"{count(obj, 'status', 'readyReplicas')}/{count(obj, 'spec', 'replicas')}"
    return [name_of(obj), ready, ages.of(obj), names, images]


def _daemon_set(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        count(obj, "status", "desiredNumberScheduled"),
        count(obj, "status", "currentNumberScheduled"),
        count(obj, "status", "numberReady"),
        count(obj, "status", "updatedNumberScheduled"),
        count(obj, "status", "numberAvailable"),
        format_labels(mapping(obj, "spec", "template", "spec", "nodeSelector")),
        ages.of(obj),
        *_template_cells(obj),
    ]


def _group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _controller_revision(obj: JSON, ages: Ages) -> list[Any]:
    controller = NONE
    for owner in items(obj, "metadata", "ownerReferences"):
        if owner.get("controller") is True:
            group = _group_of(text(owner, "apiVersion"))
            kind = text(owner, "kind")
            group_kind = f"{kind}.{group}" if group else kind
            controller = f"{group_kind.lower()}/{text(owner, 'name')}" if group_kind else text(owner, "name")
            break
    return [name_of(obj), controller, count(obj, "revision"), ages.of(obj)]


def _job_condition(job: JSON, condition_type: str) -> bool:
    for condition in items(job, "status", "conditions"):
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


def _job_status(job: JSON) -> str:
    if _job_condition(job, "Complete"):
        return "Complete"
    if _job_condition(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if _job_condition(job, "Suspended"):
        return "Suspended"
    if _job_condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_completions(job: JSON) -> str:
    succeeded = count(job, "status", "succeeded")
    completions = dig(job, "spec", "completions")
    if isinstance(completions, int):
        return f"{succeeded}/{completions}"
    parallelism = count(job, "spec", "parallelism")
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(job: JSON, ages: Ages) -> str:
    started = parse_timestamp(dig(job, "status", "startTime"))
    if started is None:
        return ""
    completed = parse_timestamp(dig(job, "status", "completionTime"))
    return Ages.between(started, completed if completed is not None else ages.now)


def _job(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        _job_status(obj),
        _job_completions(obj),
        _job_duration(obj, ages),
        ages.of(obj),
        *_template_cells(obj),
    ]


def _cron_job(obj: JSON, ages: Ages) -> list[Any]:
    last_schedule = dig(obj, "status", "lastScheduleTime")
    job_spec = mapping(obj, "spec", "jobTemplate", "spec")
    return [
        name_of(obj),
        text(obj, "spec", "schedule"),
        text(obj, "spec", "timeZone") or NONE,
        bool_or_unset(dig(obj, "spec", "suspend")),
        len(items(obj, "status", "active")),
        ages.since(last_schedule) if last_schedule is not None else NONE,
        ages.of(obj),
        *template_wide_cells(dig(job_spec, "template", "spec"), mapping(job_spec, "selector")),
    ]


_TEMPLATE_COLUMNS = (CONTAINERS_WIDE, IMAGES_WIDE)

PRINTERS: Printers = {
    ("apps", "replicasets"): Printer(
        (
            NAME,
            integer("Desired", Doc("apps.v1.ReplicaSetSpec", "replicas")),
            integer("Current", Doc("apps.v1.ReplicaSetStatus", "replicas")),
            integer("Ready", Doc("apps.v1.ReplicaSetStatus", "readyReplicas")),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("apps.v1.ReplicaSetSpec", "selector")),
        ),
        _replica_set,
    ),
    ("apps", "deployments"): Printer(
        (
            NAME,
            string("Ready", "Number of the pod with ready state"),
            string("Up-to-date", Doc("apps.v1.DeploymentStatus", "updatedReplicas")),
            string("Available", Doc("apps.v1.DeploymentStatus", "availableReplicas")),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("apps.v1.DeploymentSpec", "selector")),
        ),
        _deployment,
    ),
    ("apps", "statefulsets"): Printer(
        (NAME, string("Ready", "Number of the pod with ready state"), AGE, *_TEMPLATE_COLUMNS),
        _stateful_set,
    ),
    ("apps", "daemonsets"): Printer(
        (
            NAME,
            integer("Desired", Doc("apps.v1.DaemonSetStatus", "desiredNumberScheduled")),
            integer("Current", Doc("apps.v1.DaemonSetStatus", "currentNumberScheduled")),
            integer("Ready", Doc("apps.v1.DaemonSetStatus", "numberReady")),
            integer("Up-to-date", Doc("apps.v1.DaemonSetStatus", "updatedNumberScheduled")),
            integer("Available", Doc("apps.v1.DaemonSetStatus", "numberAvailable")),
            string("Node Selector", Doc("core.v1.PodSpec", "nodeSelector")),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("apps.v1.DaemonSetSpec", "selector")),
        ),
        _daemon_set,
    ),
    ("apps", "controllerrevisions"): Printer(
        (
            NAME,
            string("Controller", "Controller of the object"),
            string("Revision", Doc("apps.v1.ControllerRevision", "revision")),
            AGE,
        ),
        _controller_revision,
    ),
    ("batch", "jobs"): Printer(
        (
            NAME,
            string("Status", "Status of the job."),
            string("Completions", Doc("batch.v1.JobStatus", "succeeded")),
            string("Duration", "Time required to complete the job."),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("batch.v1.JobSpec", "selector")),
        ),
        _job,
    ),
    ("batch", "cronjobs"): Printer(
        (
            NAME,
            string("Schedule", Doc("batch.v1.CronJobSpec", "schedule")),
            string("Timezone", Doc("batch.v1.CronJobSpec", "timeZone")),
            boolean("Suspend", Doc("batch.v1.CronJobSpec", "suspend")),
            integer("Active", Doc("batch.v1.CronJobStatus", "active")),
            string("Last Schedule", Doc("batch.v1.CronJobStatus", "lastScheduleTime")),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("batch.v1.JobSpec", "selector")),
        ),
        _cron_job,
    ),
}
