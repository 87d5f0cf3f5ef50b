from datetime import UTC, datetime

from kubeplane.machinery.printers import table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

CORE_EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web-0.17a", "namespace": "default", "creationTimestamp": "2026-03-01T11:50:00Z"},
    "involvedObject": {
        "kind": "Pod",
        "name": "web-0",
        "namespace": "default",
        "fieldPath": "spec.containers{app}",
    },
    "reason": "Pulled",
    "message": 'Successfully pulled image "nginx"\n',
    "source": {"component": "kubelet", "host": "node-a"},
    "firstTimestamp": "2026-03-01T11:50:00Z",
    "lastTimestamp": "2026-03-01T11:58:00Z",
    "count": 4,
    "type": "Normal",
}


def test_event_columns_put_wide_ones_last() -> None:
    columns = table("", "events", [])["columnDefinitions"]
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    assert columns[-1]["format"] == "name"


def test_core_event_cells() -> None:
    assert table("", "events", [CORE_EVENT], now=NOW)["rows"][0]["cells"] == [
        "2m",
        "Normal",
        "Pulled",
        "pod/web-0",
        "spec.containers{app}",
        "kubelet, node-a",
        'Successfully pulled image "nginx"',
        "10m",
        4,
        "web-0.17a",
    ]


def test_new_style_event_with_series_and_reporting_fields() -> None:
    event = {
        "metadata": {"name": "e2", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": ""},
        "reason": "Rebooted",
        "note": "ignored in core shape",
        "message": "node rebooted",
        "type": "Warning",
        "eventTime": "2026-03-01T11:00:00.123456Z",
        "series": {"count": 7, "lastObservedTime": "2026-03-01T11:59:30.000000Z"},
        "reportingComponent": "kubelet",
        "reportingInstance": "",
    }
    assert table("", "events", [event], now=NOW)["rows"][0]["cells"] == [
        "30s",
        "Warning",
        "Rebooted",
        "node",
        "",
        "kubelet",
        "node rebooted",
        "59m",
        7,
        "e2",
    ]


def test_singleton_event_counts_one() -> None:
    event = {**CORE_EVENT, "count": 0, "lastTimestamp": None}
    assert table("", "events", [event], now=NOW)["rows"][0]["cells"][0] == "10m"
    assert table("", "events", [event], now=NOW)["rows"][0]["cells"][8] == 1


def test_events_api_group_is_printed_like_core_events() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web-0.17a", "namespace": "default"},
        "regarding": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "note": 'Successfully pulled image "nginx"',
        "deprecatedSource": {"component": "kubelet", "host": "node-a"},
        "deprecatedFirstTimestamp": "2026-03-01T11:50:00Z",
        "deprecatedLastTimestamp": "2026-03-01T11:58:00Z",
        "deprecatedCount": 4,
        "type": "Normal",
        "eventTime": None,
        "reportingController": "kubelet",
        "reportingInstance": "node-a",
    }
    core = table("", "events", [CORE_EVENT], now=NOW)
    events_api = table("events.k8s.io", "events", [event], now=NOW)
    assert events_api["columnDefinitions"] == core["columnDefinitions"]
    assert events_api["rows"][0]["cells"] == core["rows"][0]["cells"]
    assert events_api["rows"][0]["object"]["metadata"] == event["metadata"]
