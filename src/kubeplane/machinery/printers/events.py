"""Events, for both core/v1 and events.k8s.io/v1 (upstream prints both from one internal type)."""

from __future__ import annotations

from typing import Any

from .cells import JSON, count, mapping, text
from .columns import NAME, Column, Doc, string
from .duration import Ages, is_zero, parse_timestamp
from .printer import Printer, Printers

COLUMNS = (
    string("Last Seen", Doc("core.v1.Event", "lastTimestamp")),
    string("Type", Doc("core.v1.Event", "type")),
    string("Reason", Doc("core.v1.Event", "reason")),
    string("Object", Doc("core.v1.Event", "involvedObject")),
    string("Subobject", Doc("core.v1.ObjectReference", "fieldPath"), wide=True),
    string("Source", Doc("core.v1.Event", "source"), wide=True),
    string("Message", Doc("core.v1.Event", "message")),
    string("First Seen", Doc("core.v1.Event", "firstTimestamp"), wide=True),
    string("Count", Doc("core.v1.Event", "count"), wide=True),
    Column(NAME.name, NAME.type, NAME.description, priority=1, format=NAME.format),
)

# events.k8s.io/v1 field -> core/v1 field, as the conversion to the internal type renames them.
_EVENTS_API_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}


def as_core_event(event: JSON) -> JSON:
    """An events.k8s.io/v1 Event with its fields under their core/v1 names."""
    renamed = dict(event)
    for new_name, core_name in _EVENTS_API_RENAMES.items():
        if new_name in renamed:
            renamed[core_name] = renamed.pop(new_name)
    return renamed


def _unset(timestamp: object) -> bool:
    return is_zero(parse_timestamp(timestamp))


def _source(event: JSON) -> str:
    component = text(event, "source", "component") or text(event, "reportingComponent")
    instance = text(event, "source", "host") or text(event, "reportingInstance")
    return f"{component}, {instance}" if instance else component


def _event_cells(event: JSON, ages: Ages) -> list[Any]:
    first_seen = ages.since(event.get("firstTimestamp"))
    if _unset(event.get("firstTimestamp")):
        first_seen = ages.since(event.get("eventTime"))
    last_seen = ages.since(event.get("lastTimestamp"))
    if _unset(event.get("lastTimestamp")):
        last_seen = first_seen
    occurrences = count(event, "count")
    series = event.get("series")
    if isinstance(series, dict):
        last_seen = ages.since(series.get("lastObservedTime"))
        occurrences = count(series, "count")
    elif occurrences == 0:
        # Singleton events don't carry a count in the new API.
        occurrences = 1
    involved = mapping(event, "involvedObject")
    kind = text(involved, "kind").lower()
    target = f"{kind}/{text(involved, 'name')}" if text(involved, "name") else kind
    return [
        last_seen,
        text(event, "type"),
        text(event, "reason"),
        target,
        text(involved, "fieldPath"),
        _source(event),
        text(event, "message").strip(),
        first_seen,
        occurrences,
        text(event, "metadata", "name"),
    ]


def _events_api_cells(event: JSON, ages: Ages) -> list[Any]:
    return _event_cells(as_core_event(event), ages)


PRINTERS: Printers = {
    ("", "events"): Printer(COLUMNS, _event_cells),
    ("events.k8s.io", "events"): Printer(COLUMNS, _events_api_cells),
}
