"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): profiles, plugins and their args.

Defaults follow upstream's v1 defaults: one ``default-scheduler`` profile whose ``multiPoint``
enables the default plugin set; a profile's ``plugins`` then disables (by name or ``*``) and
enables per extension point, and score weights come from the most specific place they are set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

JSON = dict[str, Any]

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

EXTENSION_POINTS = ("preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score",
                    "reserve", "permit", "preBind", "bind")

# Upstream's default multiPoint set, in order, with score weights.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0), ("PrioritySort", 0), ("NodeUnschedulable", 0), ("NodeName", 0),
    ("TaintToleration", 3), ("NodeAffinity", 2), ("NodePorts", 0), ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2), ("InterPodAffinity", 2), ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1), ("ImageLocality", 1), ("DefaultBinder", 0),
)


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class PluginRef:
    name: str
    weight: int = 0


@dataclass
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int | None = None
    multi_point: list[PluginRef] = field(default_factory=lambda: [PluginRef(n, w) for n, w in DEFAULT_PLUGINS])
    # Per extension point: plugins explicitly enabled there, and names disabled there ("*": all).
    enabled: dict[str, list[PluginRef]] = field(default_factory=dict)
    disabled: dict[str, set[str]] = field(default_factory=dict)
    plugin_args: dict[str, JSON] = field(default_factory=dict)

    def plugins_for(self, point: str, serves: set[str]) -> list[PluginRef]:
        """The plugins to run at ``point``: multiPoint ones that serve it, then explicit ones."""
        disabled = self.disabled.get(point, set())
        chosen: dict[str, PluginRef] = {}
        if "*" not in disabled:
            for ref in self.multi_point:
                if ref.name in serves and ref.name not in disabled:
                    chosen[ref.name] = ref
        for ref in self.enabled.get(point, []):
            previous = chosen.get(ref.name)
            chosen[ref.name] = ref if ref.weight or previous is None else previous
        return list(chosen.values())

    def plugin_names(self) -> set[str]:
        names = {ref.name for ref in self.multi_point}
        for refs in self.enabled.values():
            names.update(ref.name for ref in refs)
        return names


@dataclass(frozen=True)
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_namespace: str = "kube-system"
    resource_name: str = "kube-scheduler"


@dataclass
class SchedulerConfig:
    profiles: list[Profile] = field(default_factory=lambda: [Profile()])
    percentage_of_nodes_to_score: int = 0  # 0: upstream's adaptive percentage
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    kubeconfig: str = ""


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse_duration(value: Any) -> float:
    """A Go duration (``15s``, ``1m30s``) in seconds; a bare number is seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"invalid duration {value!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _refs(raw: Any) -> list[PluginRef]:
    return [PluginRef(str(item["name"]), int(item.get("weight") or 0)) for item in raw or []]


def _profile(raw: JSON) -> Profile:
    profile = Profile(scheduler_name=raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME,
                      percentage_of_nodes_to_score=raw.get("percentageOfNodesToScore"))
    plugins = raw.get("plugins") or {}
    multi = plugins.get("multiPoint") or {}
    multi_disabled = {ref.name for ref in _refs(multi.get("disabled"))}
    if "*" in multi_disabled:
        profile.multi_point = []
    profile.multi_point = [ref for ref in profile.multi_point if ref.name not in multi_disabled]
    for ref in _refs(multi.get("enabled")):
        profile.multi_point = [r for r in profile.multi_point if r.name != ref.name] + [ref]
    for point in EXTENSION_POINTS:
        section = plugins.get(point) or {}
        profile.enabled[point] = _refs(section.get("enabled"))
        profile.disabled[point] = {ref.name for ref in _refs(section.get("disabled"))}
    for entry in raw.get("pluginConfig") or []:
        profile.plugin_args[str(entry["name"])] = entry.get("args") or {}
    return profile


def _leader_election(raw: JSON) -> LeaderElection:
    defaults = LeaderElection()
    return LeaderElection(
        leader_elect=bool(raw.get("leaderElect", defaults.leader_elect)),
        lease_duration=parse_duration(raw.get("leaseDuration", defaults.lease_duration)),
        renew_deadline=parse_duration(raw.get("renewDeadline", defaults.renew_deadline)),
        retry_period=parse_duration(raw.get("retryPeriod", defaults.retry_period)),
        resource_namespace=raw.get("resourceNamespace") or defaults.resource_namespace,
        resource_name=raw.get("resourceName") or defaults.resource_name,
    )


def parse_config(raw: JSON) -> SchedulerConfig:
    if raw.get("kind", KIND) != KIND:
        raise ConfigError(f"expected kind {KIND}, got {raw.get('kind')!r}")
    if raw.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f"unsupported apiVersion {raw.get('apiVersion')!r} (want {API_VERSION})")
    try:
        profiles = [_profile(p) for p in raw.get("profiles") or [{}]]
        config = SchedulerConfig(
            profiles=profiles,
            percentage_of_nodes_to_score=int(raw.get("percentageOfNodesToScore") or 0),
            pod_initial_backoff_seconds=float(raw.get("podInitialBackoffSeconds", 1)),
            pod_max_backoff_seconds=float(raw.get("podMaxBackoffSeconds", 10)),
            leader_election=_leader_election(raw.get("leaderElection") or {}),
            kubeconfig=(raw.get("clientConnection") or {}).get("kubeconfig") or "",
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"invalid {KIND}: {err}") from err
    names = [p.scheduler_name for p in profiles]
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate profile schedulerName in {names}")
    if not 0 <= config.percentage_of_nodes_to_score <= 100:
        raise ConfigError("percentageOfNodesToScore must be in [0, 100]")
    return config


def load_config(path: str) -> SchedulerConfig:
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: not a {KIND} object")
    return parse_config(raw)
