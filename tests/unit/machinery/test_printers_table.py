from datetime import UTC, datetime

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.printers import has_printer, table
from kubeplane.machinery.printers.columns import Doc, describe
from kubeplane.machinery.printers.table import DEFAULT_PRINTER, PRINTERS

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "settings",
        "namespace": "default",
        "uid": "1f0e",
        "resourceVersion": "42",
        "creationTimestamp": "2026-03-01T11:00:00Z",
        "labels": {"app": "web"},
    },
    "data": {"a": "1", "b": "2"},
    "binaryData": {"c": "AA=="},
}


def test_table_envelope_and_columns() -> None:
    result = table("", "configmaps", [CONFIG_MAP], now=NOW)
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {}
    names = [c["name"] for c in result["columnDefinitions"]]
    assert names == ["Name", "Data", "Age"]
    name_column = result["columnDefinitions"][0]
    assert name_column["type"] == "string"
    assert name_column["format"] == "name"
    assert name_column["priority"] == 0
    assert name_column["description"].startswith("Name must be unique within a namespace.")
    assert set(name_column) == {"name", "type", "format", "description", "priority"}
    assert result["rows"][0]["cells"] == ["settings", 3, "60m"]


def test_include_object_metadata_is_partial_object_metadata() -> None:
    row = table("", "configmaps", [CONFIG_MAP], now=NOW)["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": CONFIG_MAP["metadata"],
    }


def test_include_object_object_and_none() -> None:
    full = table("", "configmaps", [CONFIG_MAP], include_object="Object", now=NOW)["rows"][0]
    assert full["object"] == CONFIG_MAP
    bare = table("", "configmaps", [CONFIG_MAP], include_object="None", now=NOW)["rows"][0]
    assert bare["object"] is None
    assert "conditions" not in bare


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as raised:
        table("", "configmaps", [CONFIG_MAP], include_object="Everything")
    assert raised.value.code == 400
    assert 'unrecognized includeObject value: "Everything"' in str(raised.value)


def test_empty_include_object_means_metadata() -> None:
    row = table("", "configmaps", [CONFIG_MAP], include_object="", now=NOW)["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_every_schema_backed_description_resolves() -> None:
    for printer in PRINTERS.values():
        for column in printer.columns:
            if isinstance(column.description, Doc):
                assert describe(column.description), column


def test_no_headers_drops_column_definitions() -> None:
    result = table("", "configmaps", [CONFIG_MAP], now=NOW, no_headers=True)
    assert result["columnDefinitions"] == []
    assert result["rows"][0]["cells"][0] == "settings"


def test_empty_list_has_columns_and_no_rows() -> None:
    result = table("apps", "deployments", [], now=NOW)
    assert result["rows"] == []
    assert len(result["columnDefinitions"]) == 8


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("example.com", "widgets"),
    ],
)
def test_resources_without_printer_get_the_default_table(group: str, resource: str) -> None:
    obj = {"metadata": {"name": "thing", "creationTimestamp": "2025-12-24T08:09:10Z"}}
    result = table(group, resource, [obj], now=NOW)
    assert not has_printer(group, resource)
    assert [(c["name"], c["type"], c["format"]) for c in result["columnDefinitions"]] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]
    assert result["rows"][0]["cells"] == ["thing", "2025-12-24T08:09:10Z"]


def test_default_table_normalises_timestamps_to_utc_and_go_zero_time() -> None:
    offset = {"metadata": {"name": "a", "creationTimestamp": "2025-12-24T10:09:10+02:00"}}
    unset = {"metadata": {"name": "b"}}
    rows = table("example.com", "widgets", [offset, unset], now=NOW)["rows"]
    assert rows[0]["cells"] == ["a", "2025-12-24T08:09:10Z"]
    assert rows[1]["cells"] == ["b", "0001-01-01T00:00:00Z"]


@pytest.mark.parametrize("key", sorted(PRINTERS), ids=lambda key: "/".join(filter(None, key)))
def test_every_printer_fills_every_column_even_for_a_bare_object(key: tuple[str, str]) -> None:
    printer = PRINTERS[key]
    result = table(*key, [{"metadata": {"name": "bare"}}], now=NOW)
    assert len(result["rows"][0]["cells"]) == len(printer.columns)
    for column in result["columnDefinitions"]:
        assert column["type"] in {"string", "integer", "boolean", "date", "number"}
        assert column["priority"] in (0, 1)
        assert isinstance(column["description"], str)
    assert printer is not DEFAULT_PRINTER


def test_column_descriptions_come_from_the_schemas() -> None:
    columns = {c["name"]: c for c in table("", "pods", [])["columnDefinitions"]}
    assert columns["IP"]["description"].startswith("podIP address allocated to the pod.")
    assert columns["IP"]["priority"] == 1
    assert columns["Age"]["description"].startswith("CreationTimestamp is a timestamp")
