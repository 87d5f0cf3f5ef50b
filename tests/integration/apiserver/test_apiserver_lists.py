"""LIST and WATCH semantics over raw HTTPS and kubectl: resourceVersion and continue, Table and
partial-metadata representations, watch bookmarks, expiry, timeouts and initial events, and the
write options dryRun and fieldValidation."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import KUBECTL

pytestmark = pytest.mark.integration

MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def configmaps(namespace: str, **query: str) -> str:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def create_configmap(apiserver: Any, namespace: str, name: str, data: dict[str, str] | None = None,
                     **query: str) -> tuple[int, Any, dict[str, str]]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}
    result: tuple[int, Any, dict[str, str]] = apiserver.request("POST", configmaps(namespace, **query), body)
    return result


def watch(apiserver: Any, path: str, **query: str) -> list[dict[str, Any]]:
    """A whole watch stream (it must end by itself: pass timeoutSeconds) as decoded events."""
    status, body, _ = apiserver.request("GET", f"{path}?{urllib.parse.urlencode({'watch': 'true', **query})}")
    assert status == 200, body
    if isinstance(body, dict):  # a stream of exactly one event decodes as one JSON document
        return [body]
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


# -- resourceVersion on LIST ------------------------------------------------------------------------

@pytest.fixture
def updated_configmap(apiserver: Any, namespace: str) -> tuple[str, str, str]:
    """(name, rv at creation with data v=1, rv after the update to v=2)."""
    name = unique("cm")
    created = expect(create_configmap(apiserver, namespace, name, {"v": "1"}), 201)
    updated = expect(apiserver.request("PATCH", f"{configmaps(namespace)}/{name}", {"data": {"v": "2"}}, MERGE), 200)
    return name, created["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"]


def test_list_unset_resource_version_is_consistent(apiserver: Any, namespace: str,
                                                   updated_configmap: tuple[str, str, str]) -> None:
    name, _, latest = updated_configmap
    listed = expect(apiserver.request("GET", configmaps(namespace)), 200)
    assert int(listed["metadata"]["resourceVersion"]) >= int(latest)
    assert [item["data"] for item in listed["items"] if item["metadata"]["name"] == name] == [{"v": "2"}]


def test_list_resource_version_zero(apiserver: Any, namespace: str,
                                    updated_configmap: tuple[str, str, str]) -> None:
    listed = expect(apiserver.request("GET", configmaps(namespace, resourceVersion="0")), 200)
    assert int(listed["metadata"]["resourceVersion"]) > 0
    assert listed["kind"] == "ConfigMapList"


def test_cached_list_matches_the_etcd_list_in_every_encoding(apiserver: Any, namespace: str) -> None:
    """A LIST from the watch cache is written as its items' stored bytes (never one joined body):
    plain, gzipped (over 128 KiB) and as YAML it must decode to what a quorum read from etcd gives."""
    for index in range(40):  # ~6 KiB each: the body crosses the gzip threshold and several slices
        expect(create_configmap(apiserver, namespace, f"cm-{index:03}", {"blob": f"{index:03}" * 2000}), 201)
    quorum = expect(apiserver.request("GET", configmaps(namespace)), 200)
    rv = quorum["metadata"]["resourceVersion"]
    cached_path = configmaps(namespace, resourceVersion=rv, resourceVersionMatch="NotOlderThan")
    for headers in ({"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip"}):
        request = urllib.request.Request(apiserver.url + cached_path, headers=headers)
        with urllib.request.urlopen(request, context=apiserver.ssl_context(), timeout=30) as response:
            raw, encoding = response.read(), response.headers.get("Content-Encoding")
        assert encoding == ("gzip" if headers["Accept-Encoding"] == "gzip" else None)
        cached = json.loads(gzip.decompress(raw) if encoding else raw)
        assert cached["kind"] == "ConfigMapList" and cached["apiVersion"] == "v1"
        assert int(cached["metadata"]["resourceVersion"]) >= int(rv)
        assert cached["items"] == quorum["items"]
    status, text, _ = apiserver.request("GET", cached_path, headers={"Accept": "application/yaml"})
    assert status == 200
    as_yaml = yaml.safe_load(text)
    assert as_yaml["kind"] == "ConfigMapList" and as_yaml["items"] == quorum["items"]


def test_list_exact_returns_the_old_state(apiserver: Any, namespace: str,
                                          updated_configmap: tuple[str, str, str]) -> None:
    name, first, latest = updated_configmap
    old = expect(apiserver.request("GET", configmaps(namespace, resourceVersion=first,
                                                     resourceVersionMatch="Exact")), 200)
    assert old["metadata"]["resourceVersion"] == first
    assert [item["data"] for item in old["items"] if item["metadata"]["name"] == name] == [{"v": "1"}]
    new = expect(apiserver.request("GET", configmaps(namespace, resourceVersion=latest,
                                                     resourceVersionMatch="Exact")), 200)
    assert [item["data"] for item in new["items"] if item["metadata"]["name"] == name] == [{"v": "2"}]


def test_list_not_older_than(apiserver: Any, namespace: str, updated_configmap: tuple[str, str, str]) -> None:
    name, first, _ = updated_configmap
    listed = expect(apiserver.request("GET", configmaps(namespace, resourceVersion=first,
                                                        resourceVersionMatch="NotOlderThan")), 200)
    assert int(listed["metadata"]["resourceVersion"]) >= int(first)
    assert name in names(listed["items"])


@pytest.mark.parametrize("match", ["NotOlderThan", ""])
def test_list_too_new_resource_version_times_out(apiserver: Any, namespace: str, match: str) -> None:
    current = int(expect(apiserver.request("GET", configmaps(namespace)), 200)["metadata"]["resourceVersion"])
    query = {"resourceVersion": str(current + 1_000_000)}
    if match:
        query["resourceVersionMatch"] = match
    status = expect(apiserver.request("GET", configmaps(namespace, **query)), 504)
    assert status["reason"] == "Timeout" and status["code"] == 504
    assert status["message"].startswith(f"Too large resource version: {current + 1_000_000}, current: ")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert status["details"]["retryAfterSeconds"] == 1


@pytest.mark.parametrize("query, field", [
    ({"resourceVersionMatch": "Exact"}, "resourceVersionMatch"),
    ({"resourceVersion": "0", "resourceVersionMatch": "Exact"}, "resourceVersionMatch"),
    ({"resourceVersion": "1", "resourceVersionMatch": "Sometime"}, "resourceVersionMatch"),
    ({"sendInitialEvents": "true"}, "sendInitialEvents"),
], ids=["match-without-rv", "exact-zero", "unknown-match", "initial-events-on-list"])
def test_invalid_list_options(apiserver: Any, namespace: str, query: dict[str, str], field: str) -> None:
    status = expect(apiserver.request("GET", configmaps(namespace, **query)), 422)
    assert status["reason"] == "Invalid"
    assert field in [cause["field"] for cause in status["details"]["causes"]]


# -- continue tokens --------------------------------------------------------------------------------

def test_paging_over_raw_https(apiserver: Any, namespace: str) -> None:
    for i in range(5):
        expect(create_configmap(apiserver, namespace, f"item-{i}"), 201)
    first = expect(apiserver.request("GET", configmaps(namespace, limit="2")), 200)
    assert names(first["items"]) == ["item-0", "item-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = expect(apiserver.request("GET", configmaps(namespace, limit="2", **{
        "continue": first["metadata"]["continue"]})), 200)
    assert names(second["items"]) == ["item-2", "item-3"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    last = expect(apiserver.request("GET", configmaps(namespace, limit="2", **{
        "continue": second["metadata"]["continue"]})), 200)
    assert names(last["items"]) == ["item-4"]
    assert "continue" not in last["metadata"] and "remainingItemCount" not in last["metadata"]


@pytest.mark.parametrize("token", ["garbage", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIuLi8ifQ"],
                         ids=["not-base64-json", "escapes-the-prefix"])
def test_bad_continue_token_is_bad_request(apiserver: Any, namespace: str, token: str) -> None:
    status = expect(apiserver.request("GET", configmaps(namespace, limit="1", **{"continue": token})), 400)
    assert status["reason"] == "BadRequest"
    assert status["message"].startswith("invalid continue token: ")


def test_continue_with_a_resource_version_is_bad_request(apiserver: Any, namespace: str) -> None:
    for i in range(2):
        expect(create_configmap(apiserver, namespace, f"c-{i}"), 201)
    first = expect(apiserver.request("GET", configmaps(namespace, limit="1")), 200)
    status = expect(apiserver.request("GET", configmaps(namespace, limit="1", resourceVersion="1", **{
        "continue": first["metadata"]["continue"]})), 400)
    assert status["message"] == "specifying resource version is not allowed when using continue"


# -- Table and partial metadata -----------------------------------------------------------------------

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tabled"},
       "spec": {"containers": [{"name": "app", "image": "busybox:1.35"}]}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tabled"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "tabled"}},
                       "template": {"metadata": {"labels": {"app": "tabled"}},
                                    "spec": {"containers": [{"name": "app", "image": "busybox:1.35"}]}}}}


@pytest.mark.parametrize("collection, body, columns, first_cells", [
    ("/api/v1/namespaces/{ns}/pods", POD,
     ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"],
     ["tabled", "0/1", "Pending", "0"]),  # Restarts is a string column ("2 (5m ago)")
    ("/apis/apps/v1/namespaces/{ns}/deployments", DEPLOYMENT,
     ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"],
     ["tabled", "0/2", 0, 0]),
], ids=["pods", "deployments"])
def test_table_representation(apiserver: Any, namespace: str, collection: str, body: dict[str, Any],
                              columns: list[str], first_cells: list[Any]) -> None:
    path = collection.format(ns=namespace)
    expect(apiserver.request("POST", path, body), 201)
    for table in (expect(apiserver.request("GET", path, headers={"Accept": TABLE}), 200),
                  expect(apiserver.request("GET", f"{path}/tabled", headers={"Accept": TABLE}), 200)):
        assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
        assert [column["name"] for column in table["columnDefinitions"]] == columns
        assert table["metadata"]["resourceVersion"]
        [row] = table["rows"]
        assert row["cells"][:len(first_cells)] == first_cells
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["object"]["metadata"]["name"] == "tabled"


def test_partial_object_metadata_list(apiserver: Any, namespace: str) -> None:
    expect(create_configmap(apiserver, namespace, "meta-only", {"secret": "data"}), 201)
    listed = expect(apiserver.request("GET", configmaps(namespace), headers={"Accept": PARTIAL_LIST}), 200)
    assert listed["kind"] == "PartialObjectMetadataList" and listed["apiVersion"] == "meta.k8s.io/v1"
    assert listed["metadata"]["resourceVersion"]
    [item] = listed["items"]
    assert item["metadata"]["name"] == "meta-only" and item["metadata"]["uid"]
    assert "data" not in item


def test_partial_object_metadata_get_and_watch(apiserver: Any, namespace: str) -> None:
    """What metadata-only clients (client-go's metadata informers, the garbage collector) read."""
    partial = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
    start = expect(apiserver.request("GET", configmaps(namespace)), 200)["metadata"]["resourceVersion"]
    created = expect(create_configmap(apiserver, namespace, "meta-get", {"secret": "data"}), 201)
    got = expect(apiserver.request("GET", f"{configmaps(namespace)}/meta-get", headers={"Accept": partial}), 200)
    assert (got["kind"], got["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"] and set(got) == {"kind", "apiVersion", "metadata"}
    status, body, _ = apiserver.request(
        "GET", configmaps(namespace, watch="true", resourceVersion=start, timeoutSeconds="1"), headers={"Accept": partial})
    assert status == 200
    [event] = [json.loads(line) for line in body.splitlines() if line.strip()] if isinstance(body, str) else [body]
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "PartialObjectMetadata" and "data" not in event["object"]
    assert event["object"]["metadata"]["name"] == "meta-get"


# -- watch --------------------------------------------------------------------------------------------

def test_watch_timeout_seconds_ends_the_stream(apiserver: Any, namespace: str) -> None:
    start = expect(apiserver.request("GET", configmaps(namespace)), 200)["metadata"]["resourceVersion"]
    expect(create_configmap(apiserver, namespace, "seen"), 201)
    events = watch(apiserver, configmaps(namespace), resourceVersion=start, timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "seen")]
    assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"


def test_watch_bookmarks(apiserver: Any, namespace: str) -> None:
    start = expect(apiserver.request("GET", configmaps(namespace)), 200)["metadata"]["resourceVersion"]
    # The test server sends bookmarks every second (--watch-bookmark-interval=1).
    events = watch(apiserver, configmaps(namespace), resourceVersion=start, allowWatchBookmarks="true",
                   timeoutSeconds="3")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    for bookmark in bookmarks:
        obj = bookmark["object"]
        assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
        assert int(obj["metadata"]["resourceVersion"]) >= int(start)
        assert "name" not in obj["metadata"]
    without = watch(apiserver, configmaps(namespace), resourceVersion=start, timeoutSeconds="2")
    assert [e for e in without if e["type"] == "BOOKMARK"] == []


def test_watch_from_a_too_old_resource_version_is_gone(small_cache_apiserver: Any) -> None:
    server = small_cache_apiserver
    first = expect(create_configmap(server, "default", "old"), 201)["metadata"]["resourceVersion"]
    for i in range(5):  # push "old" out of the watch cache's window
        expect(create_configmap(server, "default", f"newer-{i}"), 201)
    server.compact_etcd()  # and out of etcd's history
    status, body, _ = server.request("GET", configmaps("default", watch="true", resourceVersion=first,
                                                       timeoutSeconds="2"))
    if status == 200:  # upstream answers 200 and a single ERROR event
        assert body, "the watch from a compacted revision ended without an event"
        event = body if isinstance(body, dict) else json.loads(body.splitlines()[0])
        assert event["type"] == "ERROR"
        body = event["object"]
    else:
        assert status == 410
    assert body["kind"] == "Status" and body["code"] == 410 and body["reason"] in ("Expired", "Gone")
    assert body["message"].startswith(f"too old resource version: {first} (")


def test_watch_send_initial_events(apiserver: Any, namespace: str) -> None:
    for name in ("first", "second"):
        expect(create_configmap(apiserver, namespace, name), 201)
    events = watch(apiserver, configmaps(namespace), sendInitialEvents="true",
                   resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true", timeoutSeconds="2")
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [("ADDED", "first"),
                                                                                      ("ADDED", "second")]
    marker = events[2]
    assert marker["type"] == "BOOKMARK"
    assert marker["object"]["metadata"]["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert int(marker["object"]["metadata"]["resourceVersion"]) >= max(
        int(e["object"]["metadata"]["resourceVersion"]) for e in events[:2])


@pytest.mark.parametrize("query, field", [
    ({"sendInitialEvents": "true", "allowWatchBookmarks": "true"}, "resourceVersionMatch"),
    ({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"}, "resourceVersionMatch"),
], ids=["initial-events-without-match", "match-without-initial-events"])
def test_invalid_watch_options(apiserver: Any, namespace: str, query: dict[str, str], field: str) -> None:
    status = expect(apiserver.request("GET", configmaps(namespace, watch="true", timeoutSeconds="1", **query)), 422)
    assert status["reason"] == "Invalid"
    assert field in [cause["field"] for cause in status["details"]["causes"]]


# -- kubectl watching ---------------------------------------------------------------------------------

@pytest.fixture
def background(apiserver: Any, tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    """Start kubectl commands in the background (output to a file); stopped by PID afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / f"kubectl-{len(started)}.out"
        with out.open("wb") as sink:
            process = subprocess.Popen([KUBECTL, "--kubeconfig", str(apiserver.kubeconfig), *args],
                                       stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started.append(process)
        return process, out

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def wait_for_output(out: Path, predicate: Callable[[str], bool], deadline_seconds: float = 30) -> str:
    """Poll a background command's output until ``predicate`` holds (a deadline, not a timing check)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        text = out.read_text()
        if predicate(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"output never matched:\n{out.read_text()}")


def test_kubectl_get_watch(apiserver: Any, namespace: str, background: Callable[..., Any]) -> None:
    expect(create_configmap(apiserver, namespace, "before"), 201)
    _, out = background("get", "configmaps", "-n", namespace, "-w", "--output-watch-events")
    wait_for_output(out, lambda text: "before" in text)
    expect(create_configmap(apiserver, namespace, "during"), 201)
    expect(apiserver.request("DELETE", f"{configmaps(namespace)}/during"), 200)
    text = wait_for_output(out, lambda text: text.count("during") >= 2)
    rows = [line.split() for line in text.splitlines()]
    assert rows[0][:3] == ["EVENT", "NAME", "DATA"]
    assert rows[1][:3] == ["ADDED", "before", "1"]
    assert [row[:2] for row in rows if "during" in row] == [["ADDED", "during"], ["DELETED", "during"]]


def test_kubectl_delete_wait_waits_for_finalizers(apiserver: Any, namespace: str,
                                                  background: Callable[..., Any]) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    expect(apiserver.request("POST", configmaps(namespace), body), 201)
    process, out = background("delete", "configmap", "held", "-n", namespace, "--wait", "--timeout=60s")
    held = f"{configmaps(namespace)}/held"

    def marked() -> bool:
        return bool(expect(apiserver.request("GET", held), 200)["metadata"].get("deletionTimestamp"))

    deadline = time.monotonic() + 30
    while not marked() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked()
    assert process.poll() is None  # still waiting: the finalizer holds the object
    expect(apiserver.request("PATCH", held, {"metadata": {"finalizers": None}}, MERGE), 200)
    assert process.wait(30) == 0, out.read_text()
    assert 'configmap "held" deleted' in out.read_text()
    expect(apiserver.request("GET", held), 404)


# -- dryRun and fieldValidation ----------------------------------------------------------------------

def test_dry_run_writes_nothing(apiserver: Any, namespace: str) -> None:
    created = expect(create_configmap(apiserver, namespace, "dry", dryRun="All"), 201)
    assert created["metadata"]["name"] == "dry" and created["metadata"]["uid"]
    expect(apiserver.request("GET", f"{configmaps(namespace)}/dry"), 404)

    real = expect(create_configmap(apiserver, namespace, "wet", {"v": "1"}), 201)
    path = f"{configmaps(namespace)}/wet"
    patched = expect(apiserver.request("PATCH", path + "?dryRun=All", {"data": {"v": "2"}}, MERGE), 200)
    assert patched["data"] == {"v": "2"}
    replaced = dict(real, data={"v": "3"})
    assert expect(apiserver.request("PUT", path + "?dryRun=All", replaced), 200)["data"] == {"v": "3"}
    expect(apiserver.request("DELETE", path + "?dryRun=All"), 200)
    assert expect(apiserver.request("GET", path), 200) == real

    bad = expect(create_configmap(apiserver, namespace, "dry2", dryRun="Some"), 422)
    assert bad["reason"] == "Invalid" and bad["details"]["kind"] == "CreateOptions"
    assert bad["message"] == 'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: "Some": ' \
                             'supported values: "All"'


def test_kubectl_dry_run_server(apiserver: Any, namespace: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kdry}\ndata: {a: b}\n"
    out = apiserver.kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-", input=manifest).stdout
    assert "configmap/kdry created (server dry run)" in out
    assert apiserver.kubectl("get", "cm", "kdry", "-n", namespace, check=False).returncode != 0


UNKNOWN = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}, "x": 1}


def test_field_validation_strict(apiserver: Any, namespace: str) -> None:
    status = expect(apiserver.request("POST", configmaps(namespace, fieldValidation="Strict"),
                                      {**UNKNOWN, "metadata": {"name": "strict"}}), 400)
    assert status["reason"] == "BadRequest"
    assert status["message"] == \
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "x"'
    expect(apiserver.request("GET", f"{configmaps(namespace)}/strict"), 404)


def test_field_validation_warn(apiserver: Any, namespace: str) -> None:
    for query in ({"fieldValidation": "Warn"}, {}):  # Warn is the server's default
        name = unique("warn")
        status, body, headers = apiserver.request("POST", configmaps(namespace, **query),
                                                  {**UNKNOWN, "metadata": {"name": name}})
        assert status == 201, body
        assert "x" not in body
        assert headers.get("Warning") == '299 - "unknown field \\"x\\""'


def test_field_validation_ignore(apiserver: Any, namespace: str) -> None:
    status, body, headers = apiserver.request("POST", configmaps(namespace, fieldValidation="Ignore"),
                                              {**UNKNOWN, "metadata": {"name": "ignored"}})
    assert status == 201 and "x" not in body
    assert "Warning" not in headers


def test_field_validation_bad_value(apiserver: Any, namespace: str) -> None:
    status = expect(apiserver.request("POST", configmaps(namespace, fieldValidation="Loud"),
                                      {**UNKNOWN, "metadata": {"name": "loud"}}), 400)
    assert status["reason"] == "BadRequest"
