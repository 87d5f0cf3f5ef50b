"""Pod (anti-)affinity terms, parsed once per pod so filters and scores only match labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery import labels
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]

# Looks up a namespace's labels (for namespaceSelector); None when the namespace is unknown.
NamespaceLabels = Callable[[str], Mapping[str, str] | None]


def _selector(raw: Any) -> labels.LabelSelector:
    try:
        return labels.from_label_selector(raw)
    except StatusError:
        return labels.NOTHING  # the API server validates selectors; a broken one matches nothing


@dataclass(frozen=True)
class AffinityTerm:
    selector: labels.LabelSelector
    namespaces: frozenset[str]
    namespace_selector: labels.LabelSelector | None
    topology_key: str

    @classmethod
    def parse(cls, term: JSON, pod_namespace: str) -> AffinityTerm:
        namespaces = frozenset(term.get("namespaces") or [])
        raw_ns_selector = term.get("namespaceSelector")
        ns_selector = None if raw_ns_selector is None else _selector(raw_ns_selector)
        # Neither namespaces nor a namespaceSelector means "the pod's own namespace".
        if not namespaces and ns_selector is None:
            namespaces = frozenset({pod_namespace})
        return cls(_selector(term.get("labelSelector")), namespaces, ns_selector, term.get("topologyKey", ""))

    def matches(self, pod: JSON, namespace_labels: NamespaceLabels) -> bool:
        metadata = pod.get("metadata") or {}
        if not self._namespace_matches(metadata.get("namespace", ""), namespace_labels):
            return False
        return self.selector.matches(metadata.get("labels") or {})

    def _namespace_matches(self, namespace: str, namespace_labels: NamespaceLabels) -> bool:
        if namespace in self.namespaces:
            return True
        if self.namespace_selector is None:
            return False
        if self.namespace_selector.empty:
            return True
        found = namespace_labels(namespace)
        return found is not None and self.namespace_selector.matches(found)


@dataclass(frozen=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


@dataclass(frozen=True)
class PodAffinity:
    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[WeightedAffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedAffinityTerm, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.required_affinity or self.required_anti_affinity or self.preferred_affinity
                    or self.preferred_anti_affinity)

    @classmethod
    def of(cls, pod: JSON) -> PodAffinity:
        affinity = (pod.get("spec") or {}).get("affinity") or {}
        namespace = (pod.get("metadata") or {}).get("namespace", "")

        def required(kind: str) -> tuple[AffinityTerm, ...]:
            terms = (affinity.get(kind) or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
            return tuple(AffinityTerm.parse(term, namespace) for term in terms)

        def preferred(kind: str) -> tuple[WeightedAffinityTerm, ...]:
            terms = (affinity.get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []
            return tuple(WeightedAffinityTerm(AffinityTerm.parse(t.get("podAffinityTerm") or {}, namespace),
                                              int(t.get("weight", 0))) for t in terms)

        return cls(required("podAffinity"), required("podAntiAffinity"),
                   preferred("podAffinity"), preferred("podAntiAffinity"))
