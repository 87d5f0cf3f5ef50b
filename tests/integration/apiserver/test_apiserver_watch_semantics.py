"""LIST and WATCH semantics against upstream kube-apiserver: option
validation texts for watch and list, boolean query parameters, too-large resourceVersions on watch,
synthetic ADDED events, watch-list without bookmarks, selector transitions on watch, single-object
watches over the legacy /watch/ path, timeoutSeconds=0 and remainingItemCount with selectors.

Every expectation cites the upstream source it comes from (kubernetes/kubernetes, staging/...)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from test_apiserver_lists import configmaps, expect, unique

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def create_configmap(apiserver: Any, namespace: str, name: str, labels: dict[str, str] | None = None) -> JSON:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "v"}}
    created: JSON = expect(apiserver.request("POST", configmaps(namespace), body), 201)
    return created


def current_rv(apiserver: Any, namespace: str) -> str:
    rv: str = expect(apiserver.request("GET", configmaps(namespace)), 200)["metadata"]["resourceVersion"]
    return rv


def decode_stream(body: Any) -> list[JSON]:
    if isinstance(body, dict):  # a stream of exactly one event decodes as one JSON document
        return [body]
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def watch_events(apiserver: Any, path: str) -> list[JSON]:
    """A whole watch stream at ``path`` (which must end by itself: timeoutSeconds) as events."""
    status, body, _ = apiserver.request("GET", path)
    assert status == 200, body
    return decode_stream(body)


def summary(events: list[JSON]) -> list[tuple[str, str | None]]:
    return [(e["type"], e["object"].get("metadata", {}).get("name")) for e in events]


@contextmanager
def open_stream(apiserver: Any, path: str) -> Iterator[http.client.HTTPResponse]:
    """A watch response left open, read line by line; closed (the connection too) on exit."""
    url = urllib.parse.urlsplit(apiserver.url)
    connection = http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port,
                                             context=apiserver.ssl_context(), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200, response.read()[:600]
        yield response
    finally:
        connection.close()


# -- watch option validation ------------------------------------------------------------------------
# Upstream: staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go
# (validateWatchOptions) and its validation_test.go, e.g. case
# "watch-sendInitialEvents-without-resourceversionmatch-forbidden" expects
# "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
# (the field is resourceVersionMatch, not sendInitialEvents), and
# "watch-resourceversionmatch-without-sendInitialEvents-forbidden" expects
# "... resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".
# The handler (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/get.go, ListResource) answers
# errors.NewInvalid(GroupKind{"meta.k8s.io", "ListOptions"}, "", errs): 422, message
# 'ListOptions.meta.k8s.io "" is invalid: <one error>' or '... is invalid: [<e1>, <e2>]'.

FORBIDDEN = "FieldValueForbidden"
NOT_SUPPORTED = "FieldValueNotSupported"
NEEDS_NOT_OLDER_THAN = "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"


@pytest.mark.parametrize("query, causes", [
    ({"resourceVersion": "1", "resourceVersionMatch": "NotOlderThan"},
     [(FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")]),
    ({"sendInitialEvents": "true", "allowWatchBookmarks": "true"}, [(FORBIDDEN, NEEDS_NOT_OLDER_THAN)]),
    ({"sendInitialEvents": "false"}, [(FORBIDDEN, NEEDS_NOT_OLDER_THAN)]),
    ({"sendInitialEvents": "true", "resourceVersionMatch": "Exact", "allowWatchBookmarks": "true"},
     [(FORBIDDEN, NEEDS_NOT_OLDER_THAN),
      (NOT_SUPPORTED, 'Unsupported value: "Exact": supported values: "NotOlderThan"')]),
    ({"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true",
      "continue": "123"},
     [(FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden when continue is provided")]),
], ids=["match-without-initial-events", "initial-events-without-match", "initial-events-false-without-match",
        "initial-events-with-exact", "initial-events-with-continue"])
def test_watch_option_validation_texts(apiserver: Any, namespace: str, query: dict[str, str],
                                       causes: list[tuple[str, str]]) -> None:
    status = expect(apiserver.request("GET", configmaps(namespace, watch="true", timeoutSeconds="1", **query)), 422)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Invalid", 422)
    assert status["details"]["group"] == "meta.k8s.io" and status["details"]["kind"] == "ListOptions"
    assert [(c["reason"], c["message"], c["field"]) for c in status["details"]["causes"]] == [
        (reason, message, "resourceVersionMatch") for reason, message in causes]
    errors = [f"resourceVersionMatch: {message}" for _, message in causes]
    listed = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
    assert status["message"] == f'ListOptions.meta.k8s.io "" is invalid: {listed}'


# -- list option validation: every cause, in upstream's order ---------------------------------------
# Upstream ValidateListOptions (same validation.go) checks, for a list with resourceVersionMatch:
# 1. "resourceVersionMatch is forbidden unless resourceVersion is provided", 2. "... forbidden when
# continue is provided", 3. NotSupported (supported "Exact", "NotOlderThan", ""), 4. "exact" with "0".

UNLESS_RV = "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
WITH_CONTINUE = "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"
EXACT_ZERO = 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'


@pytest.mark.parametrize("query, errors", [
    ({"resourceVersionMatch": "Sometime"},
     [UNLESS_RV, 'resourceVersionMatch: Unsupported value: "Sometime": supported values: "Exact", "NotOlderThan", ""']),
    ({"resourceVersion": "0", "resourceVersionMatch": "Exact", "continue": "x"}, [WITH_CONTINUE, EXACT_ZERO]),
    ({"resourceVersionMatch": "NotOlderThan", "continue": "x"}, [UNLESS_RV, WITH_CONTINUE]),
    ({"resourceVersion": "5", "resourceVersionMatch": "NotOlderThan", "continue": "x"}, [WITH_CONTINUE]),
], ids=["unsupported-without-rv", "exact-zero-with-continue", "no-rv-with-continue", "match-with-continue"])
def test_list_option_validation_texts(apiserver: Any, namespace: str, query: dict[str, str],
                                      errors: list[str]) -> None:
    status = expect(apiserver.request("GET", configmaps(namespace, **query)), 422)
    listed = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
    assert status["message"] == f'ListOptions.meta.k8s.io "" is invalid: {listed}'
    assert [f"{c['field']}: {c['message']}" for c in status["details"]["causes"]] == errors


# -- boolean query parameters ---------------------------------------------------------------------
# Upstream decodes ListOptions with the parameter codec, whose bool conversion
# (staging/src/k8s.io/apimachinery/pkg/runtime/conversion.go, Convert_Slice_string_To_bool) reads
# "only the absence of a value, a value of "false", or a value of "0" resolve to false. Any other
# value (including empty string) resolves to true"; ListResource then watches when opts.Watch is set.

@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes"])
def test_any_watch_value_but_false_or_zero_watches(apiserver: Any, namespace: str, value: str) -> None:
    start = current_rv(apiserver, namespace)
    create_configmap(apiserver, namespace, "seen")
    status, body, _ = apiserver.request("GET", configmaps(namespace, watch=value, resourceVersion=start,
                                                          timeoutSeconds="1"))
    assert status == 200, body
    assert summary(decode_stream(body)) == [("ADDED", "seen")]


@pytest.mark.parametrize("value", ["0", "false", "FALSE"])
def test_watch_false_or_zero_lists(apiserver: Any, namespace: str, value: str) -> None:
    create_configmap(apiserver, namespace, "listed")
    listed = expect(apiserver.request("GET", configmaps(namespace, watch=value)), 200)
    assert listed["kind"] == "ConfigMapList"


def test_allow_watch_bookmarks_any_true_spelling(apiserver: Any, namespace: str) -> None:
    """allowWatchBookmarks=yes is true upstream (same conversion), not a 400."""
    start = current_rv(apiserver, namespace)
    events = watch_events(apiserver, configmaps(namespace, watch="1", resourceVersion=start,
                                                allowWatchBookmarks="yes", timeoutSeconds="3"))
    assert "BOOKMARK" in [e["type"] for e in events]  # the test server bookmarks every second


# -- too-large resourceVersion on watch -------------------------------------------------------------
# Upstream staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go,
# waitUntilWatchCacheFreshAndForceAllEvents: it waits for freshness only "if sendInitialEvents was
# requested. otherwise, we allow for establishing the connection because the clients can wait for
# events without unnecessary blocking". A plain watch from a future RV is a 200 stream; a watch-list
# one that cannot get fresh returns newErrWatcher(err): a 200 stream of one ERROR event carrying the
# TooLargeResourceVersion StatusError (504 Timeout, "Too large resource version: %d, current: %d",
# cause ResourceVersionTooLarge, retryAfterSeconds 1; storage/errors.go).

def test_plain_watch_from_a_future_resource_version_is_established(apiserver: Any, namespace: str) -> None:
    future = str(int(current_rv(apiserver, namespace)) + 1_000_000)
    events = watch_events(apiserver, configmaps(namespace, watch="true", resourceVersion=future,
                                                timeoutSeconds="1"))
    assert events == []


def test_watch_list_from_a_future_resource_version_is_an_error_event(apiserver: Any, namespace: str) -> None:
    future = int(current_rv(apiserver, namespace)) + 1_000_000
    events = watch_events(apiserver, configmaps(namespace, watch="true", resourceVersion=str(future),
                                                sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                                                allowWatchBookmarks="true", timeoutSeconds="10"))
    [event] = events
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 504, "Timeout")
    assert status["message"].startswith(f"Too large resource version: {future}, current: ")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert status["details"]["retryAfterSeconds"] == 1


def test_watch_from_a_too_old_resource_version_is_an_error_event(small_cache_apiserver: Any) -> None:
    """cacher.go Watch: when getAllEventsSinceLocked fails ("too old resource version: %d (%d)",
    watch_cache.go) it returns newErrWatcher(err), nil: "To match the uncached watch implementation,
    once we have passed authn/authz/admission, and successfully parsed a resource version, other errors
    must fail with a watch event of type ERROR, rather than a directly returned error." So: a 200
    stream of one ERROR event carrying the 410 Expired Status (errors.NewResourceExpired), not a 410.
    (test_apiserver_lists.py accepts either; this pins upstream's form.)"""
    server = small_cache_apiserver
    name = unique("old")
    first = create_configmap(server, "default", name)["metadata"]["resourceVersion"]
    for index in range(5):  # push it out of the 3-event watch cache window
        create_configmap(server, "default", f"{name}-newer-{index}")
    server.compact_etcd()  # and out of etcd's history
    status, body, _ = server.request("GET", configmaps("default", watch="true", resourceVersion=first,
                                                       timeoutSeconds="2"))
    assert status == 200, body
    [event] = decode_stream(body)
    assert event["type"] == "ERROR"
    expired = event["object"]
    assert (expired["kind"], expired["code"], expired["reason"]) == ("Status", 410, "Expired")
    assert expired["message"].startswith(f"too old resource version: {first} (")


# -- synthetic ADDED events and watch-list ----------------------------------------------------------
# Upstream docs "Semantics for watch" (kubernetes.io/docs/reference/using-api/api-concepts/):
# resourceVersion unset and "0" both begin with synthetic "Added" events of all existing instances;
# a specific RV starts strictly after it. The watch cache lists in key order.

@pytest.mark.parametrize("rv", [None, "0"], ids=["unset", "zero"])
def test_watch_starts_with_synthetic_added_events(apiserver: Any, namespace: str, rv: str | None) -> None:
    for name in ("b-second", "a-first"):
        create_configmap(apiserver, namespace, name)
    query = {"watch": "true", "timeoutSeconds": "1", **({"resourceVersion": rv} if rv is not None else {})}
    events = watch_events(apiserver, configmaps(namespace, **query))
    assert summary(events) == [("ADDED", "a-first"), ("ADDED", "b-second")]
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)
    after = watch_events(apiserver, configmaps(namespace, watch="true", timeoutSeconds="1",
                                               resourceVersion=current_rv(apiserver, namespace)))
    assert after == []


def test_watch_list_without_bookmarks_has_no_end_marker(apiserver: Any, namespace: str) -> None:
    """cacher.go setInitialEventsEndBookmarkIfRequested: the initial-events-end bookmark is set only
    when SendInitialEvents && Predicate.AllowWatchBookmarks (validation allows sendInitialEvents
    without allowWatchBookmarks: validation_test.go "watch-sendInitialEvents-no-allowWatchBookmark")."""
    create_configmap(apiserver, namespace, "only")
    events = watch_events(apiserver, configmaps(namespace, watch="true", sendInitialEvents="true",
                                                resourceVersionMatch="NotOlderThan", timeoutSeconds="2"))
    assert summary(events) == [("ADDED", "only")]


def test_watch_list_without_initial_events_starts_now(apiserver: Any, namespace: str) -> None:
    """sendInitialEvents=false with RV unset: "start at most recent" (cacher.go
    getWatchCacheResourceVersion reads the current RV from storage), so existing objects are not sent."""
    create_configmap(apiserver, namespace, "existing")
    events = watch_events(apiserver, configmaps(namespace, watch="true", sendInitialEvents="false",
                                                resourceVersionMatch="NotOlderThan", timeoutSeconds="1"))
    assert events == []


# -- selectors on WATCH -----------------------------------------------------------------------------
# Upstream staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go convertToWatchEvent:
# an object that starts matching is ADDED, keeps matching MODIFIED, and stops matching DELETED
# "with the previous object content, but with the event's resource version".

def test_label_selector_transitions_on_watch(apiserver: Any, namespace: str) -> None:
    start = current_rv(apiserver, namespace)
    path = f"{configmaps(namespace)}/moving"
    create_configmap(apiserver, namespace, "moving", {"app": "x"})
    expect(apiserver.request("PATCH", path, {"data": {"k": "v2"}}, MERGE), 200)
    left = expect(apiserver.request("PATCH", path, {"metadata": {"labels": {"app": "y"}}}, MERGE), 200)
    expect(apiserver.request("PATCH", path, {"data": {"k": "v3"}}, MERGE), 200)  # not matching: unseen
    back = expect(apiserver.request("PATCH", path, {"metadata": {"labels": {"app": "x"}}}, MERGE), 200)
    create_configmap(apiserver, namespace, "other", {"app": "y"})
    events = watch_events(apiserver, configmaps(namespace, watch="true", resourceVersion=start,
                                                labelSelector="app=x", timeoutSeconds="1"))
    assert summary(events) == [("ADDED", "moving"), ("MODIFIED", "moving"), ("DELETED", "moving"),
                               ("ADDED", "moving")]
    deleted = events[2]["object"]
    assert deleted["metadata"]["labels"] == {"app": "x"} and deleted["data"] == {"k": "v2"}
    assert deleted["metadata"]["resourceVersion"] == left["metadata"]["resourceVersion"]
    assert events[3]["object"]["metadata"]["resourceVersion"] == back["metadata"]["resourceVersion"]


def test_invalid_selectors_on_watch_are_bad_requests(apiserver: Any, namespace: str) -> None:
    """Field labels: core/v1 conversion funcs answer "field label not supported: <label>" for pods;
    kinds without their own use runtime.DefaultMetaV1FieldSelectorConversion
    ('"<label>" is not a known field selector: only "metadata.name", "metadata.namespace"'). Label
    selectors: labels.Parse, "unable to parse requirement: found 'front' expected: '('"
    (staging/src/k8s.io/apimachinery/pkg/labels/selector.go parseValues)."""
    pods = f"/api/v1/namespaces/{namespace}/pods?" + urllib.parse.urlencode(
        {"watch": "true", "timeoutSeconds": "1", "fieldSelector": "spec.bogus=x"})
    bad = expect(apiserver.request("GET", pods), 400)
    assert (bad["reason"], bad["message"]) == ("BadRequest", "field label not supported: spec.bogus")
    bad = expect(apiserver.request("GET", configmaps(namespace, watch="true", timeoutSeconds="1",
                                                     fieldSelector="data.k=v")), 400)
    assert bad["message"] == '"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"'
    bad = expect(apiserver.request("GET", configmaps(namespace, watch="true", timeoutSeconds="1",
                                                     labelSelector="tier in front")), 400)
    assert bad["reason"] == "BadRequest"
    assert bad["message"].endswith("unable to parse requirement: found 'front' expected: '('")


# -- watching one object ---------------------------------------------------------------------------
# Upstream installer.go registers WATCH on "watch/" + itemPath (ListResource with forceWatch and a
# metadata.name field selector added from the path); a GET on the item path is GetResource whatever
# ?watch says (requestinfo.go turns get into list/watch only "if there's no name on the request").

def test_legacy_watch_paths(apiserver: Any, namespace: str) -> None:
    start = current_rv(apiserver, namespace)
    for name in ("target", "bystander"):
        create_configmap(apiserver, namespace, name)
    legacy = f"/api/v1/watch/namespaces/{namespace}/configmaps"
    query = urllib.parse.urlencode({"resourceVersion": start, "timeoutSeconds": "1"})
    assert summary(watch_events(apiserver, f"{legacy}?{query}")) == [("ADDED", "target"), ("ADDED", "bystander")]
    assert summary(watch_events(apiserver, f"{legacy}/target?{query}")) == [("ADDED", "target")]
    by_field = configmaps(namespace, watch="true", resourceVersion=start, timeoutSeconds="1",
                          fieldSelector="metadata.name=target")
    assert summary(watch_events(apiserver, by_field)) == [("ADDED", "target")]
    # get.go ListResource: with a name on the path, any other field selector than metadata.name=<name>
    # is errors.NewBadRequest("fieldSelector metadata.name doesn't match requested name").
    mismatch = urllib.parse.urlencode({"timeoutSeconds": "1", "fieldSelector": "metadata.name=bystander"})
    bad = expect(apiserver.request("GET", f"{legacy}/target?{mismatch}"), 400)
    assert (bad["reason"], bad["message"]) == ("BadRequest", "fieldSelector metadata.name doesn't match requested name")


def test_get_by_name_ignores_the_watch_parameter(apiserver: Any, namespace: str) -> None:
    created = create_configmap(apiserver, namespace, "single")
    got = expect(apiserver.request("GET", f"{configmaps(namespace)}/single?watch=true&timeoutSeconds=1"), 200)
    assert got["kind"] == "ConfigMap" and got["metadata"]["uid"] == created["metadata"]["uid"]


# -- timeoutSeconds=0 -------------------------------------------------------------------------------
# Upstream get.go ListResource: "if timeout == 0 && minRequestTimeout > 0 { timeout = random in
# [minRequestTimeout, 2*minRequestTimeout) }": timeoutSeconds=0 is the same as no timeout given.

def test_timeout_seconds_zero_keeps_the_watch_open(apiserver: Any, namespace: str) -> None:
    start = current_rv(apiserver, namespace)
    with open_stream(apiserver, configmaps(namespace, watch="true", resourceVersion=start,
                                           timeoutSeconds="0")) as stream:
        create_configmap(apiserver, namespace, "after-open")
        line = stream.readline()  # the socket timeout (10 s) bounds the wait
        assert line, "the watch with timeoutSeconds=0 ended at once"
        event = json.loads(line)
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "after-open")


# -- remainingItemCount and paging with selectors ----------------------------------------------------
# Upstream staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go GetList: "getResp.Count counts in
# objects that do not match the pred. Instead of returning inaccurate count for non-empty selectors,
# we return nil" -- remainingItemCount is set only when the predicate is empty.

def test_paging_with_a_selector_has_no_remaining_item_count(apiserver: Any, namespace: str) -> None:
    for index in range(5):
        create_configmap(apiserver, namespace, f"p-{index}", {"keep": "yes" if index % 2 == 0 else "no"})
    seen: list[str] = []
    query = {"limit": "1", "labelSelector": "keep=yes"}
    pages = 0
    while True:
        page = expect(apiserver.request("GET", configmaps(namespace, **query)), 200)
        pages += 1
        assert "remainingItemCount" not in page["metadata"], page["metadata"]
        seen += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        query = {"limit": "1", "labelSelector": "keep=yes", "continue": token}
        assert pages < 10
    assert seen == ["p-0", "p-2", "p-4"]
    whole = expect(apiserver.request("GET", configmaps(namespace, limit="2")), 200)
    assert whole["metadata"]["remainingItemCount"] == 3  # no selector: counted


def test_limit_with_resource_version_zero_is_ignored(apiserver: Any, namespace: str) -> None:
    """cacher.go computeListLimit: "as of today, the limit is ignored for requests that set RV == 0"."""
    for index in range(3):
        create_configmap(apiserver, namespace, f"z-{index}")
    listed = expect(apiserver.request("GET", configmaps(namespace, limit="1", resourceVersion="0")), 200)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["z-0", "z-1", "z-2"]
    assert "continue" not in listed["metadata"] and "remainingItemCount" not in listed["metadata"]
