"""Write semantics against the real server: dryRun, deletecollection, propagation
policies, finalizers, URL/body mismatches, immutable metadata, create-on-update, field validation and
field managers. Each test cites the upstream kube-apiserver code it holds our server to."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_apiserver_lists import configmaps, expect, unique

pytestmark = pytest.mark.integration

MERGE = "application/merge-patch+json"
HOLD = "example.com/hold"


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": "v"}}


@pytest.fixture
def held(apiserver: Any, namespace: str) -> Iterator[str]:
    """A ConfigMap carrying a custom finalizer, so a DELETE leaves it terminating; the finalizer is
    removed afterwards so the namespace can go."""
    name = unique("held")
    expect(apiserver.request("POST", configmaps(namespace), configmap(name, finalizers=[HOLD])), 201)
    yield name
    apiserver.request("PATCH", f"{configmaps(namespace)}/{name}", {"metadata": {"finalizers": None}}, MERGE)


# -- DELETE: propagation policies, repeated deletes, finalizers --------------------------------------

@pytest.mark.parametrize(("policy", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
def test_propagation_policy_adds_its_finalizer(apiserver: Any, namespace: str, held: str, policy: str,
                                               finalizer: str) -> None:
    # Upstream registry/generic/registry/store.go updateForGracefulDeletionAndFinalizers: the policy's
    # finalizer is appended after the existing ones; deletionTimestamp is set with grace 0
    # (BeforeDelete for a non-graceful strategy) and the object is returned with 200.
    path = f"{configmaps(namespace)}/{held}"
    deleting = expect(apiserver.request("DELETE", path, {"propagationPolicy": policy}), 200)
    meta = deleting["metadata"]
    assert meta["finalizers"] == [HOLD, finalizer]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
    assert expect(apiserver.request("GET", path), 200)["metadata"]["finalizers"] == [HOLD, finalizer]


def test_delete_with_orphan_dependents_false_that_does_not_delete_is_accepted(apiserver: Any, namespace: str,
                                                                              held: str) -> None:
    # Upstream endpoints/handlers/delete.go DeleteResource: "Return http.StatusAccepted if the resource
    # was not deleted immediately and user requested cascading deletion by setting
    # OrphanDependents=false" (`if !wasDeleted && options.OrphanDependents != nil &&
    # !*options.OrphanDependents { status = http.StatusAccepted }`). The body is still the object.
    status, body, _ = apiserver.request("DELETE", f"{configmaps(namespace)}/{held}", {"orphanDependents": False})
    assert status == 202, f"{status}: {str(body)[:300]}"
    assert body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]


def test_repeated_delete_of_a_terminating_object_keeps_its_deletion_timestamp(apiserver: Any, namespace: str,
                                                                               held: str) -> None:
    # Upstream rest.BeforeDelete: an object that already has a deletionTimestamp is "pending graceful";
    # Store.Delete returns it unchanged with 200 and does not move the timestamp.
    path = f"{configmaps(namespace)}/{held}"
    first = expect(apiserver.request("DELETE", path), 200)["metadata"]
    again = expect(apiserver.request("DELETE", path), 200)["metadata"]
    assert again["deletionTimestamp"] == first["deletionTimestamp"]
    assert again["resourceVersion"] == first["resourceVersion"]
    assert again["finalizers"] == [HOLD]


def test_removing_the_last_finalizer_completes_the_deletion(apiserver: Any, namespace: str, held: str) -> None:
    # Upstream Store.Update -> ShouldDeleteDuringUpdate: a terminating object left with no finalizers
    # and grace 0 is deleted by the update itself.
    path = f"{configmaps(namespace)}/{held}"
    expect(apiserver.request("DELETE", path), 200)
    expect(apiserver.request("PATCH", path, {"metadata": {"finalizers": None}}, MERGE), 200)
    expect(apiserver.request("GET", path), 404)


def test_no_new_finalizers_on_a_terminating_object(apiserver: Any, namespace: str, held: str) -> None:
    # Upstream apimachinery/pkg/api/validation/objectmeta.go ValidateNoNewFinalizers:
    # field.Forbidden(fldPath, fmt.Sprintf("no new finalizers can be added if the object is being
    # deleted, found new finalizers %#v", extra.List())) -- %#v of a []string prints []string{"b"}.
    path = f"{configmaps(namespace)}/{held}"
    expect(apiserver.request("DELETE", path), 200)
    status = expect(apiserver.request("PATCH", path, {"metadata": {"finalizers": [HOLD, "example.com/b"]}},
                                      MERGE), 422)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'ConfigMap "{held}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if '
        'the object is being deleted, found new finalizers []string{"example.com/b"}')


# -- deletecollection ----------------------------------------------------------------------------------

def test_deletecollection_selects_and_returns_the_list_as_it_was(apiserver: Any, namespace: str,
                                                                 held: str) -> None:
    # Upstream registry/generic/registry/store.go Store.DeleteCollection lists with the selectors,
    # deletes each item and returns `listObj` -- the items as listed, before their deletion (so a
    # finalizer-held item has no deletionTimestamp in the response). The handler writes it with 200.
    doomed = unique("doomed")
    keep = unique("keep")
    expect(apiserver.request("POST", configmaps(namespace), configmap(doomed, labels={"sweep": "yes"})), 201)
    expect(apiserver.request("POST", configmaps(namespace), configmap(keep)), 201)
    expect(apiserver.request("PATCH", f"{configmaps(namespace)}/{held}", {"metadata": {"labels": {"sweep": "yes"}}},
                             MERGE), 200)
    result = expect(apiserver.request("DELETE", configmaps(namespace, labelSelector="sweep=yes")), 200)
    assert result["kind"] == "ConfigMapList" and result["apiVersion"] == "v1"
    assert sorted(item["metadata"]["name"] for item in result["items"]) == sorted([doomed, held])
    assert all("deletionTimestamp" not in item["metadata"] for item in result["items"])
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{doomed}"), 404)
    assert expect(apiserver.request("GET", f"{configmaps(namespace)}/{held}"), 200)["metadata"]["deletionTimestamp"]
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{keep}"), 200)


def test_deletecollection_by_field_selector_and_dry_run(apiserver: Any, namespace: str) -> None:
    # Upstream DeleteCollection honours fieldSelector like LIST; with dryRun=All each Store.Delete is
    # dry (Storage.Delete with dryRun) so nothing is removed, but the list is still returned.
    first, second = unique("a"), unique("b")
    for name in (first, second):
        expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    selector = f"metadata.name={first}"
    dry = expect(apiserver.request("DELETE", configmaps(namespace, fieldSelector=selector, dryRun="All")), 200)
    assert [item["metadata"]["name"] for item in dry["items"]] == [first]
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{first}"), 200)
    wet = expect(apiserver.request("DELETE", configmaps(namespace, fieldSelector=selector)), 200)
    assert [item["metadata"]["name"] for item in wet["items"]] == [first]
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{first}"), 404)
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{second}"), 200)


# -- dryRun on create ------------------------------------------------------------------------------------

def test_dry_run_create_fills_generate_name_and_uid_but_stores_nothing(apiserver: Any, namespace: str) -> None:
    # Upstream Store.Create runs BeforeCreate (name generation, uid, creationTimestamp) before the
    # dry-run storage skips the write; resourceVersion stays empty.
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}, "data": {"k": "v"}}
    created = expect(apiserver.request("POST", configmaps(namespace, dryRun="All"), body), 201)
    meta = created["metadata"]
    assert meta["name"].startswith("gen-") and len(meta["name"]) == len("gen-") + 5
    assert meta["uid"] and meta["creationTimestamp"] and not meta.get("resourceVersion")
    expect(apiserver.request("GET", f"{configmaps(namespace)}/{meta['name']}"), 404)


# -- PUT: URL/body mismatch, immutable metadata, create-on-update ----------------------------------------

def test_put_with_a_different_name_is_bad_request(apiserver: Any, namespace: str) -> None:
    # Upstream endpoints/handlers/rest.go checkName: errors.NewBadRequest(fmt.Sprintf("the name of the
    # object (%s) does not match the name on the URL (%s)", objName, name)).
    name = unique("cm")
    expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    status = expect(apiserver.request("PUT", f"{configmaps(namespace)}/{name}", configmap("other")), 400)
    assert status["reason"] == "BadRequest"
    assert status["message"] == f"the name of the object (other) does not match the name on the URL ({name})"


def test_put_with_a_wrong_uid_is_a_precondition_conflict(apiserver: Any, namespace: str) -> None:
    # Upstream rest.defaultUpdatedObjectInfo.Preconditions turns a body uid into a storage
    # precondition; etcd3 store checkPreconditions -> NewInvalidObjError "Precondition failed: UID in
    # precondition: %v, UID in object meta: %v", surfaced as 409 Conflict "Operation cannot be
    # fulfilled on configmaps ...".
    name = unique("cm")
    real = expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    wrong = str(uuid.uuid4())
    body = configmap(name, uid=wrong)
    status = expect(apiserver.request("PUT", f"{configmaps(namespace)}/{name}", body), 409)
    assert status["reason"] == "Conflict"
    assert status["message"] == (f'Operation cannot be fulfilled on configmaps "{name}": Precondition failed: '
                                 f'UID in precondition: {wrong}, UID in object meta: {real["metadata"]["uid"]}')


def test_put_ignores_creation_timestamp_and_self_link(apiserver: Any, namespace: str) -> None:
    # Upstream rest.BeforeUpdate: "ignore changes to timestamp" (creationTimestamp is copied from the
    # old object); selfLink is never stored (the SelfLink field is always cleared since 1.24).
    name = unique("cm")
    real = expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    body = configmap(name, creationTimestamp="2001-01-01T00:00:00Z", selfLink="/x/y")
    body["data"] = {"k": "changed"}
    updated = expect(apiserver.request("PUT", f"{configmaps(namespace)}/{name}", body), 200)
    assert updated["metadata"]["creationTimestamp"] == real["metadata"]["creationTimestamp"]
    assert "selfLink" not in updated["metadata"] and updated["data"] == {"k": "changed"}


@pytest.mark.parametrize(("resource", "kind", "created"), [
    ("endpoints", "Endpoints", True),   # pkg/registry/core/endpoint/strategy.go AllowCreateOnUpdate: true
    ("configmaps", "ConfigMap", False),  # pkg/registry/core/configmap/strategy.go AllowCreateOnUpdate: false
])
def test_put_creates_only_where_upstream_allows(apiserver: Any, namespace: str, resource: str, kind: str,
                                                created: bool) -> None:
    # Upstream Store.Update: a missing object is created (201) when AllowCreateOnUpdate, else
    # NewNotFound(qualifiedResource, name) -> 404 '<resource> "<name>" not found'.
    name = unique("put")
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    path = f"/api/v1/namespaces/{namespace}/{resource}/{name}"
    status, result, _ = apiserver.request("PUT", path, body)
    if created:
        assert status == 201, result
        assert result["metadata"]["uid"] and result["metadata"]["resourceVersion"]
        expect(apiserver.request("GET", path), 200)
    else:
        assert status == 404, result
        assert result["reason"] == "NotFound" and result["message"] == f'{resource} "{name}" not found'


# -- fieldManager and fieldValidation ------------------------------------------------------------------

@pytest.mark.parametrize(("method", "options_kind"), [("POST", "CreateOptions"), ("PUT", "UpdateOptions"),
                                                      ("PATCH", "PatchOptions")])
def test_field_manager_over_128_characters_is_invalid(apiserver: Any, namespace: str, method: str,
                                                      options_kind: str) -> None:
    # Upstream apimachinery/pkg/apis/meta/v1/validation ValidateFieldManager: field.TooLong(fldPath,
    # fieldManager, FieldManagerMaxLength=128); create.go/update.go/patch.go wrap it in
    # errors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "CreateOptions"|"UpdateOptions"|
    # "PatchOptions"}, "", errs). TooLong omits the value: "Too long: may not be more than 128 bytes".
    name = unique("fm")
    expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    manager = "m" * 129
    if method == "POST":
        path, body, ctype = configmaps(namespace, fieldManager=manager), configmap(unique("fm")), "application/json"
    elif method == "PUT":
        path, body, ctype = f"{configmaps(namespace)}/{name}?fieldManager={manager}", configmap(name), \
            "application/json"
    else:
        path, body, ctype = f"{configmaps(namespace)}/{name}?fieldManager={manager}", {"data": {"x": "y"}}, MERGE
    status = expect(apiserver.request(method, path, body, ctype), 422)
    assert status["reason"] == "Invalid"
    assert status["message"] == (f'{options_kind}.meta.k8s.io "" is invalid: fieldManager: '
                                 'Too long: may not be more than 128 bytes')
    assert status["details"]["kind"] == options_kind
    expect(apiserver.request("POST", configmaps(namespace, fieldManager="m" * 128), configmap(unique("ok"))), 201)


def test_field_manager_with_a_non_printable_character_is_invalid(apiserver: Any, namespace: str) -> None:
    # Upstream ValidateFieldManager: for each rune that is not unicode.IsPrint, field.Invalid(fldPath,
    # fieldManager, fmt.Sprintf("invalid character %#U (at position %d)", r, i)); the value is %q-quoted.
    status = expect(apiserver.request("POST", configmaps(namespace, fieldManager="a\tb"), configmap(unique("np"))),
                    422)
    assert status["message"] == ('CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\tb": '
                                 'invalid character U+0009 (at position 1)')


def test_strict_field_validation_names_nested_unknown_fields_by_path(apiserver: Any, namespace: str) -> None:
    # Upstream serializer/json strict decoding (sigs.k8s.io/json UnmarshalStrict) reports unknown fields
    # by their full path: 'strict decoding error: unknown field "metadata.labelz"'.
    body = configmap(unique("strict"), labelz={"a": "b"})
    status = expect(apiserver.request("POST", configmaps(namespace, fieldValidation="Strict"), body), 400)
    assert status["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                 'error: unknown field "metadata.labelz"')


# -- managedFields ------------------------------------------------------------------------------------------

def test_a_second_manager_gets_its_own_update_entry(apiserver: Any, namespace: str) -> None:
    # Upstream fieldmanager (managedfields/internal/structuredmerge.go Update + managedfieldsupdater):
    # each manager of an Update gets an entry {manager, operation: Update, apiVersion, time,
    # fieldsType: FieldsV1, fieldsV1}; fields the second manager changed move to it.
    name = unique("mf")
    body = configmap(name)
    expect(apiserver.request("POST", configmaps(namespace, fieldManager="first"), body), 201)
    body["data"] = {"k": "v", "extra": "x"}
    updated = expect(apiserver.request("PUT", f"{configmaps(namespace)}/{name}?fieldManager=second", body), 200)
    entries = {entry["manager"]: entry for entry in updated["metadata"]["managedFields"]}
    assert set(entries) == {"first", "second"}
    second = entries["second"]
    assert second["operation"] == "Update" and second["apiVersion"] == "v1"
    assert second["fieldsType"] == "FieldsV1" and second["time"]
    assert second["fieldsV1"] == {"f:data": {"f:extra": {}}}
    assert "f:extra" not in entries["first"]["fieldsV1"]["f:data"]


# Upstream test/integration/apiserver/field_validation_test.go (invalidBodyJSON, testFieldValidationPost):
# the body, the Strict error and the Warn warnings below are upstream's own, in document order.
INVALID_DEPLOYMENT = """{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "dupename", "name": "%s", "labels": {"app": "nginx"}, "unknownMeta": "metaVal"},
  "spec": {
    "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2", "paused": true, "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
                                          "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""
UPSTREAM_DECODING_PROBLEMS = [
    'duplicate field "metadata.name"',
    'unknown field "metadata.unknownMeta"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
    'duplicate field "spec.paused"',
    'unknown field "spec.template.spec.containers[0].unknownNested"',
    'duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
]


def post_with_all_warnings(apiserver: Any, path: str, raw: bytes) -> tuple[int, Any, list[str]]:
    """POST returning every Warning header (the fixture's request() folds repeated headers)."""
    req = urllib.request.Request(apiserver.url + path, data=raw, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=apiserver.ssl_context(), timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get_all("Warning") or []
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get_all("Warning") or []


def test_strict_decoding_lists_duplicates_and_unknown_fields_in_document_order(apiserver: Any,
                                                                               namespace: str) -> None:
    name = unique("strict")
    raw = (INVALID_DEPLOYMENT % name).encode()
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    status, body, _ = post_with_all_warnings(apiserver, path + "?fieldValidation=Strict", raw)
    assert status == 400, body
    assert body["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding '
                               "error: " + ", ".join(UPSTREAM_DECODING_PROBLEMS))


@pytest.mark.parametrize("query", ["?fieldValidation=Warn", ""])
def test_warn_reports_duplicates_and_unknown_fields_as_warnings(apiserver: Any, namespace: str,
                                                               query: str) -> None:
    # Warn is the default; each problem is its own `Warning: 299 - "<text>"` header (upstream
    # endpoints/handlers/create.go addStrictDecodingWarnings -> warning.AddWarning).
    name = unique("warn")
    status, body, warnings = post_with_all_warnings(
        apiserver, f"/apis/apps/v1/namespaces/{namespace}/deployments{query}", (INVALID_DEPLOYMENT % name).encode())
    assert status == 201, body
    expected = ['299 - "' + problem.replace('"', '\\"') + '"' for problem in UPSTREAM_DECODING_PROBLEMS]
    assert warnings == expected
    assert body["spec"]["paused"] is False  # the last duplicate wins, as in encoding/json


# -- immutable metadata, generation, managedFields in a PUT body --------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("deletionTimestamp", "2030-01-01T00:00:00Z"),
                                              ("deletionGracePeriodSeconds", 30)])
def test_put_cannot_start_a_deletion(apiserver: Any, namespace: str, field: str, value: Any) -> None:
    # Upstream rest.BeforeUpdate only carries deletionTimestamp/deletionGracePeriodSeconds over from an
    # old object that has them; then apimachinery/pkg/api/validation/objectmeta.go
    # ValidateObjectMetaAccessorUpdate: ValidateImmutableField(newMeta.GetDeletionTimestamp(),
    # oldMeta.GetDeletionTimestamp(), fldPath.Child("deletionTimestamp")) (same for
    # deletionGracePeriodSeconds) -> 422 Invalid "field is immutable". A client cannot set them by PUT.
    name = unique("cm")
    expect(apiserver.request("POST", configmaps(namespace), configmap(name)), 201)
    status = expect(apiserver.request("PUT", f"{configmaps(namespace)}/{name}", configmap(name, **{field: value})),
                    422)
    assert status["reason"] == "Invalid"
    causes = status["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [(f"metadata.{field}", "FieldValueInvalid")]
    assert causes[0]["message"].endswith("field is immutable")
    assert field not in expect(apiserver.request("GET", f"{configmaps(namespace)}/{name}"), 200)["metadata"]


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "g"}},
                       "template": {"metadata": {"labels": {"app": "g"}},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def test_generation_moves_with_the_spec_only(apiserver: Any, namespace: str) -> None:
    # Upstream pkg/registry/apps/deployment/strategy.go: PrepareForCreate sets Generation = 1;
    # PrepareForUpdate bumps it only when the spec changed (not labels/annotations); the status
    # strategy never does; a client-supplied generation is ignored (rest.BeforeUpdate copies the old).
    name = unique("gen")
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    created = expect(apiserver.request("POST", path, {**DEPLOYMENT, "metadata": {"name": name, "generation": 7}}),
                     201)
    assert created["metadata"]["generation"] == 1
    relabelled = expect(apiserver.request("PATCH", f"{path}/{name}", {"metadata": {"labels": {"x": "y"}}}, MERGE),
                        200)
    assert relabelled["metadata"]["generation"] == 1
    scaled = expect(apiserver.request("PATCH", f"{path}/{name}", {"spec": {"replicas": 1}}, MERGE), 200)
    assert scaled["metadata"]["generation"] == 2
    status = expect(apiserver.request("PATCH", f"{path}/{name}/status", {"status": {"observedGeneration": 2}},
                                      MERGE), 200)
    assert status["metadata"]["generation"] == 2 and status["status"]["observedGeneration"] == 2
    forced = dict(scaled, metadata={**scaled["metadata"], "generation": 40, "resourceVersion": ""})
    assert expect(apiserver.request("PUT", f"{path}/{name}", forced), 200)["metadata"]["generation"] == 2


def test_managed_fields_in_a_put_body(apiserver: Any, namespace: str) -> None:
    # Upstream managedfields/internal/fieldmanager.go decodeLiveOrNew: a valid list in the body is
    # taken as the new managedFields; isResetManagedFields ("the list is non-nil but empty, or ...
    # has one empty item") resets them, and a PUT that changes nothing else leaves none
    # (test/integration/apiserver/apply/apply_test.go TestClearManagedFieldsWithUpdateEmptyList).
    # Note: the website's "Clearing managedFields" page still says an empty list does not reset; the
    # code and upstream's own integration test say it does.
    name = unique("mf")
    path = f"{configmaps(namespace)}/{name}"
    created = expect(apiserver.request("POST", configmaps(namespace, fieldManager="creator"), configmap(name)), 201)
    custom = [{"manager": "custom", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
               "fieldsV1": {"f:data": {"f:k": {}}}}]
    replaced = expect(apiserver.request("PUT", path + "?fieldManager=other",
                                        dict(created, metadata={**created["metadata"], "managedFields": custom})),
                      200)
    assert [entry["manager"] for entry in replaced["metadata"]["managedFields"]] == ["custom"]
    resets: list[list[dict[str, Any]]] = [[], [{}]]
    for reset in resets:
        before = expect(apiserver.request("PUT", path + "?fieldManager=other",
                                          dict(replaced, metadata={**replaced["metadata"], "managedFields": custom,
                                                                   "resourceVersion": ""})), 200)
        assert before["metadata"]["managedFields"]
        cleared = expect(apiserver.request("PUT", path + "?fieldManager=other",
                                           dict(before, metadata={**before["metadata"], "managedFields": reset})),
                         200)
        assert "managedFields" not in cleared["metadata"], reset
        assert cleared["data"] == {"k": "v"}


# -- custom resources: no unconditional update, no create on update ---------------------------------------

@pytest.fixture
def gadgets(apiserver: Any) -> Iterator[str]:
    """A namespaced CRD `gadgets.<unique group>` with an open schema; yields its group."""
    group = f"a{uuid.uuid4().hex[:8]}.example.com"
    name = f"gadgets.{group}"
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    expect(apiserver.request("POST", crds, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object",
                                                               "x-kubernetes-preserve-unknown-fields": True}}}}}]}}),
        201)
    deadline = time.monotonic() + 20
    while apiserver.request("GET", f"/apis/{group}/v1/gadgets")[0] != 200:
        assert time.monotonic() < deadline, "CRD not served in time"
        time.sleep(0.1)
    yield group
    apiserver.request("DELETE", f"{crds}/{name}")


def test_custom_resources_need_a_resource_version_and_are_not_created_by_put(apiserver: Any, namespace: str,
                                                                             gadgets: str) -> None:
    # Upstream apiextensions-apiserver customresource strategy: AllowUnconditionalUpdate() false and
    # AllowCreateOnUpdate() false. Store.Update then answers a PUT without resourceVersion with
    # NewInvalid(schema.GroupKind{Group: qualifiedResource.Group, Kind: qualifiedResource.Resource}, name,
    # field.Invalid(metadata.resourceVersion, newResourceVersion /* uint64 0, printed %#v */, "must be
    # specified for an update")), and a PUT of a missing object with NewNotFound -> 404.
    collection = f"/apis/{gadgets}/v1/namespaces/{namespace}/gadgets"
    body = {"apiVersion": f"{gadgets}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"a": 1}}
    missing = expect(apiserver.request("PUT", f"{collection}/g1", body), 404)
    assert missing["message"] == f'gadgets.{gadgets} "g1" not found'
    expect(apiserver.request("POST", collection, body), 201)
    status = expect(apiserver.request("PUT", f"{collection}/g1", dict(body, spec={"a": 2})), 422)
    assert status["message"] == (f'gadgets.{gadgets} "g1" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
                                 "must be specified for an update")
    assert status["details"]["kind"] == "gadgets" and status["details"]["group"] == gadgets
