"""``spec.podFailurePolicy``: the first rule matching a failed pod decides what its failure
means (upstream ``matchPodFailurePolicy``): FailJob, Ignore (not counted toward backoffLimit),
Count (the default), FailIndex (per-index backoff, not modelled here: treated as Count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

FAIL_JOB, IGNORE, COUNT, FAIL_INDEX = "FailJob", "Ignore", "Count", "FailIndex"


@dataclass(frozen=True)
class Match:
    action: str
    message: str


def _terminated_exit_codes(pod: JSON, container_name: str | None) -> list[tuple[str, int]]:
    status = pod.get("status") or {}
    found = []
    for entry in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        if container_name and entry.get("name") != container_name:
            continue
        terminated = (entry.get("state") or {}).get("terminated")
        if terminated is not None and terminated.get("exitCode") is not None:
            found.append((str(entry.get("name")), int(terminated["exitCode"])))
    return found


def _exit_code_match(pod: JSON, requirement: JSON) -> tuple[str, int] | None:
    values = set(requirement.get("values") or ())
    operator = requirement.get("operator")
    for name, code in _terminated_exit_codes(pod, requirement.get("containerName")):
        if code == 0:
            continue  # a successful container never matches (upstream)
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return name, code
    return None


def _condition_match(pod: JSON, patterns: list[JSON]) -> JSON | None:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    for pattern in patterns:
        wanted_status = pattern.get("status") or "True"
        for condition in conditions:
            if condition.get("type") == pattern.get("type") and condition.get("status") == wanted_status:
                return pattern
    return None


def match(policy: JSON | None, pod: JSON) -> Match | None:
    """The decision of the first matching rule for a Failed pod, or None (count it)."""
    if not policy or (pod.get("status") or {}).get("phase") != "Failed":
        return None
    meta = pod.get("metadata") or {}
    who = f"{meta.get('namespace')}/{meta.get('name')}"
    for index, rule in enumerate(policy.get("rules") or ()):
        action = str(rule.get("action") or "")
        if rule.get("onExitCodes"):
            hit = _exit_code_match(pod, rule["onExitCodes"])
            if hit is not None:
                return Match(action, f"Container {hit[0]} for pod {who} failed with exit code {hit[1]} "
                                     f"matching {action} rule at index {index}")
        elif rule.get("onPodConditions"):
            pattern = _condition_match(pod, rule["onPodConditions"])
            if pattern is not None:
                return Match(action, f"Pod {who} has condition {pattern.get('type')} matching {action} "
                                     f"rule at index {index}")
    return None
