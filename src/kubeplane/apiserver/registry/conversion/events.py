"""core/v1 Event (the storage version) <-> events.k8s.io/v1 Event.

Both groups' Events live in one storage, so an event an events.k8s.io client records shows in
``kubectl describe`` (core) and the other way round. The fields are the same data under new names
(upstream's events/v1 conversion); everything not renamed is copied as is.
"""

from __future__ import annotations

from kubeplane.apiserver.registry.conversion.conversion import JSON, Conversion

# events.k8s.io/v1 name -> core/v1 name
_RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_TO_V1 = {core: v1 for v1, core in _RENAMED.items()}


def _renamed(obj: JSON, names: dict[str, str], api_version: str) -> JSON:
    out = {names.get(key, key): value for key, value in obj.items()}
    if "apiVersion" in obj:
        out["apiVersion"] = api_version
    return out


def core_to_events_v1(obj: JSON) -> JSON:
    return _renamed(obj, _TO_V1, "events.k8s.io/v1")


def events_v1_to_core(obj: JSON) -> JSON:
    return _renamed(obj, _RENAMED, "v1")


EVENTS_V1 = Conversion("", "v1", "events", to_served=core_to_events_v1, to_storage=events_v1_to_core)
