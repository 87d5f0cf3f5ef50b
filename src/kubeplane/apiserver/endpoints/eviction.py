"""The Eviction API (``pods/<name>/eviction``): a pod deletion that respects PodDisruptionBudgets,
as upstream's ``pkg/registry/core/pod/storage/eviction.go``.

- Pods that cannot disrupt anything more (Pending, Succeeded, Failed, already deleting) are
  deleted without looking at budgets.
- Otherwise the one budget whose selector matches the pod decides (two or more: a 500 Status, as
  upstream does not support that). An unready pod goes without spending the budget when the
  application is healthy anyway (or the budget says ``unhealthyPodEvictionPolicy: AlwaysAllow``);
  else the budget must be processed by the disruption controller (``observedGeneration``) and
  allow a disruption, which the eviction spends: ``disruptionsAllowed`` goes down by one and the
  pod is recorded in ``disruptedPods`` (so the controller does not count it as healthy while it
  terminates) through the budget's status, retried on conflicts with other evictions.
- Before the delete the pod gets the ``DisruptionTarget`` condition (reason
  ``EvictionByEvictionAPI``), so its owner can tell why it went.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import DeleteOptions, Store, now_rfc3339
from kubeplane.apiserver.registry.strategy import StatusStrategy
from kubeplane.machinery import errors
from kubeplane.machinery.disruption import allowed_condition
from kubeplane.machinery.errors import Cause, StatusError
from kubeplane.machinery.labels import from_label_selector
from kubeplane.machinery.objects import clone
from kubeplane.storage.interface import ListOptions

JSON = dict[str, Any]
T = TypeVar("T")

# Upstream's MaxDisruptedPodSize: evictions the disruption controller has not confirmed yet.
MAX_DISRUPTED_PODS = 2000
# Upstream's EvictionsRetry: 20 tries, 500 ms apart, on conflicts.
RETRY_STEPS = 20
RETRY_DELAY_SECONDS = 0.5

SUCCESS: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
MORE_THAN_ONE_BUDGET: JSON = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
    "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}
DISRUPTION_TARGET = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                     "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}
_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


class _Conflict(Exception):
    """A write lost a race: try again from a fresh read."""


async def evict_pod(ctx: RequestContext, pods: Store, pdbs: Store | None, name: str, eviction: Any) -> JSON:
    """Evict pod ``name``; returns the Status to answer with (its ``code`` is the HTTP status)."""
    if not isinstance(eviction, dict):
        raise errors.bad_request("not a Eviction object")
    if (eviction.get("metadata") or {}).get("name", "") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    raw_options = eviction.get("deleteOptions") or {}
    if not isinstance(raw_options, dict):
        raise errors.bad_request("deleteOptions must be an object")
    options = DeleteOptions.from_body(raw_options)
    # The request's dryRun or the Eviction's deleteOptions.dryRun (propagateDryRun).
    ctx = dataclasses.replace(ctx, dry_run=ctx.dry_run or options.dry_run)
    # A caller's own resourceVersion precondition is theirs to retry, not ours (upstream).
    retry_conflicts = not options.resource_version

    pod = await _retrying(lambda: _delete_if_budgets_do_not_apply(ctx, pods, name, options), retry_conflicts)
    if pod is None:
        return dict(SUCCESS)
    budgets = await _budgets_of(ctx, pdbs, pod) if pdbs is not None else []
    if len(budgets) > 1:
        return dict(MORE_THAN_ONE_BUDGET)
    pin_version = False
    if budgets:
        assert pdbs is not None
        pin_version = _unready_pod_spares_the_budget(pod, budgets[0])
        if not pin_version:
            await _spend(ctx, pdbs, budgets[0], pod["metadata"]["name"])
    delete_options = options
    if pin_version and not options.resource_version:
        # The unready pod may not turn ready between our look at it and its deletion.
        delete_options = dataclasses.replace(options, resource_version=pod["metadata"]["resourceVersion"])
    try:
        await _mark_and_delete(ctx, pods, name, delete_options)
    except StatusError as err:
        if err.code == 409 and pin_version and not options.resource_version:
            raise _still_processing(budgets[0]["metadata"]["name"]) from err
        raise
    return dict(SUCCESS)


async def _retrying(attempt: Callable[[], Awaitable[T]], retry_conflicts: bool) -> T:
    for step in range(RETRY_STEPS):
        try:
            return await attempt()
        except StatusError as err:
            if err.code != 409 or not retry_conflicts or step == RETRY_STEPS - 1:
                raise
        await asyncio.sleep(RETRY_DELAY_SECONDS)
    raise AssertionError("unreachable")


async def _delete_if_budgets_do_not_apply(ctx: RequestContext, pods: Store, name: str,
                                          options: DeleteOptions) -> JSON | None:
    """Delete the pod when no budget can apply to it (returns None); else return it."""
    pod = await pods.get(ctx, name)
    phase = (pod.get("status") or {}).get("phase")
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    if phase not in ("Pending", "Succeeded", "Failed") and not deleting:
        return pod
    if phase == "Pending" and not options.resource_version:
        # Pinned so a pod that starts running meanwhile goes through the budget check instead.
        options = dataclasses.replace(options, resource_version=pod["metadata"]["resourceVersion"])
    await _mark_and_delete(ctx, pods, name, options)
    return None


async def _budgets_of(ctx: RequestContext, pdbs: Store, pod: JSON) -> list[JSON]:
    """The namespace's budgets whose selector matches the pod; a missing or empty selector matches
    nothing, and one that does not parse matches nothing (upstream)."""
    listed = await pdbs.list(ctx, ListOptions(resource_version="0"))
    labels = pod["metadata"].get("labels") or {}
    matching = []
    for pdb in listed.items:
        selector = (pdb.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            continue
        try:
            matches = from_label_selector(selector).matches(labels)
        except (ValueError, StatusError):
            continue
        if matches:
            matching.append(pdb)
    return matching


def _unready_pod_spares_the_budget(pod: JSON, pdb: JSON) -> bool:
    """An unready pod does not count as healthy, so evicting it spends nothing when the budget
    says AlwaysAllow, or when the application is healthy without it (IfHealthyBudget, the default)."""
    if _is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    desired = status.get("desiredHealthy", 0)
    return bool(status.get("currentHealthy", 0) >= desired > 0)


def _is_ready(pod: JSON) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


async def _spend(ctx: RequestContext, pdbs: Store, pdb: JSON, pod_name: str) -> None:
    """checkAndDecrement, retried on conflicts with a fresh read of the budget."""
    name = pdb["metadata"]["name"]
    for step in range(RETRY_STEPS):
        if step:
            await asyncio.sleep(RETRY_DELAY_SECONDS)
            pdb = await pdbs.get(ctx, name)
        try:
            await _check_and_decrement(ctx, pdbs, pdb, pod_name)
            return
        except _Conflict:
            continue
    raise StatusError(504, "Timeout", f'Timeout: couldn\'t update PodDisruptionBudget "{name}" due to conflicts',
                      retry_after_seconds=10)


async def _check_and_decrement(ctx: RequestContext, pdbs: Store, pdb: JSON, pod_name: str) -> None:
    meta, status = pdb["metadata"], dict(pdb.get("status") or {})
    name = meta["name"]
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        raise _still_processing(name)
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise errors.forbidden("policy", "poddisruptionbudget", name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.forbidden("policy", "poddisruptionbudget", name,
                               "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        err = errors.too_many_requests(_VIOLATION, retry_after=0)
        err.causes = [Cause("DisruptionBudget", f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} "
                                                f"healthy pods and has {status.get('currentHealthy', 0)} currently")]
        raise err
    if ctx.dry_run:
        return
    now = now_rfc3339()
    status["disruptionsAllowed"] = allowed - 1
    if allowed == 1:
        status["conditions"] = allowed_condition(list(status.get("conditions") or []), 0,
                                                 status.get("observedGeneration", 0), now)
    status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: now}
    expected_version = meta["resourceVersion"]

    async def produce(current: JSON | None) -> JSON:
        if current is None:
            raise errors.not_found("policy", "poddisruptionbudgets", name)
        if current["metadata"]["resourceVersion"] != expected_version:
            raise _Conflict
        return {**clone(current), "status": status}

    try:
        await pdbs.update(_internal(ctx), name, produce, StatusStrategy(pdbs.strategy))
    except StatusError as err:
        if err.code == 409:
            raise _Conflict from err
        raise


async def _mark_and_delete(ctx: RequestContext, pods: Store, name: str, options: DeleteOptions) -> None:
    """addConditionAndDeletePod: the DisruptionTarget condition on the latest pod (checked against
    the delete's preconditions), then the delete, whose resourceVersion precondition moves to the
    version the condition wrote."""
    if not ctx.dry_run:
        async def produce(current: JSON | None) -> JSON:
            if current is None:
                raise errors.not_found("", "pods", name)
            meta = current["metadata"]
            if options.uid and options.uid != meta.get("uid"):
                raise errors.conflict("", "pods", name, f"Precondition failed: UID in precondition: {options.uid}, "
                                      f"UID in object meta: {meta.get('uid', '')}")
            if options.resource_version and options.resource_version != meta.get("resourceVersion"):
                raise errors.conflict("", "pods", name, "Precondition failed: ResourceVersion in precondition: "
                                      f"{options.resource_version}, ResourceVersion in object meta: "
                                      f"{meta.get('resourceVersion', '')}")
            updated = clone(current)
            status = updated.setdefault("status", {})
            status["conditions"] = _with_condition(status.get("conditions") or [], DISRUPTION_TARGET)
            return updated

        updated, _ = await pods.update(_internal(ctx), name, produce, StatusStrategy(pods.strategy))
        if options.resource_version:
            options = dataclasses.replace(options, resource_version=updated["metadata"]["resourceVersion"])
    await pods.delete(ctx, name, options)


def _with_condition(conditions: list[JSON], condition: JSON) -> list[JSON]:
    """podutil.UpdatePodCondition: the transition time moves only when the status changes."""
    condition = {**condition, "lastTransitionTime": now_rfc3339()}
    out = []
    for existing in conditions:
        if existing.get("type") == condition["type"]:
            if existing.get("status") == condition["status"]:
                condition["lastTransitionTime"] = existing.get("lastTransitionTime")
            out.append(condition)
            condition = {}
        else:
            out.append(existing)
    if condition:
        out.append(condition)
    return out


def _internal(ctx: RequestContext) -> RequestContext:
    """The status writes upstream makes through its loopback client: the same request, on /status."""
    return dataclasses.replace(ctx, subresource="status", warnings=[])


def _still_processing(budget: str) -> StatusError:
    err = errors.too_many_requests(_VIOLATION, retry_after=10)
    err.causes = [Cause("DisruptionBudget", f"The disruption budget {budget} is still being processed by the server.")]
    return err
