"""kubectl behaviour against the real server: discovery commands, server dry-run,
server-side apply and diff, replace --force, failing patches, label/annotate, wait, get options,
`get all` in chunks and `delete --all`, each compared with what kubectl prints against a real
kube-apiserver (the citations name the upstream code that decides it)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from apiserver_process import KUBECTL

pytestmark = pytest.mark.integration

FULL_VERBS = "create,delete,deletecollection,get,list,patch,update,watch"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def configmap(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> str:
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


def get_json(apiserver: Any, namespace: str, *what: str) -> Any:
    return json.loads(apiserver.kubectl("get", *what, "-n", namespace, "-o", "json").stdout)


def table_rows(text: str) -> dict[str, dict[str, str]]:
    """A kubectl table (columns may be blank) as {first column: {header: cell}}, cut at header offsets."""
    lines = text.splitlines()
    header = lines[0]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        row = dict(zip(names, cells, strict=True))
        rows[f"{row['NAME']}.{row['APIVERSION']}"] = row
    return rows


# -- discovery: api-resources, api-versions, auth can-i ---------------------------------------------

def test_api_resources_wide_shows_upstream_verbs_shortnames_and_categories(apiserver: Any) -> None:
    # Values as each upstream REST storage declares them: ShortNames() and Categories() in
    # pkg/registry/*/storage (pods "po" + "all", deployments "deploy" + "all", jobs/cronjobs "cj" +
    # "all", hpa + "all", crd "crd,crds" + "api-extensions"); verbs from the interfaces the storage
    # implements (namespaces has no DeleteCollection, bindings is create-only, componentstatuses is
    # get,list, tokenreviews is create-only).
    rows = table_rows(apiserver.kubectl("api-resources", "-o", "wide").stdout)
    expected = {
        "pods.v1": ("po", "true", "Pod", FULL_VERBS, "all"),
        "services.v1": ("svc", "true", "Service", FULL_VERBS, "all"),
        "namespaces.v1": ("ns", "false", "Namespace", "create,delete,get,list,patch,update,watch", ""),
        "bindings.v1": ("", "true", "Binding", "create", ""),
        "componentstatuses.v1": ("cs", "false", "ComponentStatus", "get,list", ""),
        "events.v1": ("ev", "true", "Event", FULL_VERBS, ""),
        "secrets.v1": ("", "true", "Secret", FULL_VERBS, ""),
        "deployments.apps/v1": ("deploy", "true", "Deployment", FULL_VERBS, "all"),
        "controllerrevisions.apps/v1": ("", "true", "ControllerRevision", FULL_VERBS, ""),
        "cronjobs.batch/v1": ("cj", "true", "CronJob", FULL_VERBS, "all"),
        "horizontalpodautoscalers.autoscaling/v2": ("hpa", "true", "HorizontalPodAutoscaler", FULL_VERBS, "all"),
        "customresourcedefinitions.apiextensions.k8s.io/v1": ("crd,crds", "false", "CustomResourceDefinition",
                                                               FULL_VERBS, "api-extensions"),
        "tokenreviews.authentication.k8s.io/v1": ("", "false", "TokenReview", "create", ""),
        "events.events.k8s.io/v1": ("ev", "true", "Event", FULL_VERBS, ""),
        "poddisruptionbudgets.policy/v1": ("pdb", "true", "PodDisruptionBudget", FULL_VERBS, ""),
    }
    for key, (short, namespaced, kind, verbs, categories) in expected.items():
        row = rows[key]
        assert (row["SHORTNAMES"], row["NAMESPACED"], row["KIND"], row["VERBS"], row["CATEGORIES"]) == \
            (short, namespaced, kind, verbs, categories), key

    cluster = table_rows(apiserver.kubectl("api-resources", "--namespaced=false").stdout)
    assert {row["NAMESPACED"] for row in cluster.values()} == {"false"}
    assert {"nodes.v1", "namespaces.v1", "persistentvolumes.v1", "clusterroles.rbac.authorization.k8s.io/v1",
            "storageclasses.storage.k8s.io/v1"} <= set(cluster)
    assert "pods.v1" not in cluster


def test_api_versions_are_sorted_and_include_the_groups_issue_2_serves(apiserver: Any) -> None:
    # kubectl api-versions prints discovery's group/versions sorted (kubectl/pkg/cmd/apiresources).
    versions = apiserver.kubectl("api-versions").stdout.split()
    assert versions == sorted(versions)
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1", "coordination.k8s.io/v1",
               "discovery.k8s.io/v1", "events.k8s.io/v1", "networking.k8s.io/v1", "storage.k8s.io/v1",
               "scheduling.k8s.io/v1", "rbac.authorization.k8s.io/v1", "certificates.k8s.io/v1",
               "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1"):
        assert gv in versions


def test_auth_can_i_as_admin(apiserver: Any) -> None:
    # The admin is in system:masters: cluster-admin's rules come first in the SelfSubjectRulesReview
    # (plugin/pkg/auth/authorizer/rbac RulesFor, bootstrap policy), then system:basic-user's and the
    # discovery/public-info-viewer non-resource URLs, which kubectl prints with duplicates as upstream.
    listed = apiserver.kubectl("auth", "can-i", "--list").stdout.splitlines()
    assert listed[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert listed[1].split() == ["*.*", "[]", "[]", "[*]"]
    assert listed[2].split() == ["[*]", "[]", "[*]"]
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in [r.split() for r in listed]
    assert ["[/healthz]", "[]", "[get]"] in [r.split() for r in listed]
    assert apiserver.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert apiserver.kubectl("auth", "can-i", "delete", "nodes", "--all-namespaces").stdout.strip() == "yes"
    assert apiserver.kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"


# -- kubectl create --dry-run=server ---------------------------------------------------------------

def test_create_dry_run_server_returns_the_defaulted_object_without_storing_it(apiserver: Any,
                                                                               namespace: str) -> None:
    # A dry-run create runs defaulting, admission and validation and returns the object as it would
    # be stored, without a resourceVersion (registry/generic/registry/dryrun.go copyInto: nothing is
    # written) and without persisting it.
    made = {
        "deployment": ("create", "deployment", "d1", "--image=nginx"),
        "service": ("create", "service", "clusterip", "s1", "--tcp=80:8080"),
        "configmap": ("create", "configmap", "c1", "--from-literal=a=b"),
        "secret": ("create", "secret", "generic", "x1", "--from-literal=a=b"),
    }
    objects = {kind: yaml.safe_load(apiserver.kubectl(*args, "-n", namespace, "--dry-run=server", "-o", "yaml").stdout)
               for kind, args in made.items()}
    for kind, obj in objects.items():
        meta = obj["metadata"]
        assert "resourceVersion" not in meta, kind
        assert meta["uid"] and meta["creationTimestamp"] and meta["namespace"] == namespace, kind
        assert "managedFields" not in meta, kind  # kubectl strips them unless --show-managed-fields
    deploy = objects["deployment"]
    assert deploy["metadata"]["generation"] == 1
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert deploy["spec"]["revisionHistoryLimit"] == 10 and deploy["spec"]["progressDeadlineSeconds"] == 600
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always"  # no tag means :latest
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert deploy["status"] == {}
    svc = objects["service"]
    assert svc["spec"]["clusterIP"].startswith("198.19.") and svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    assert svc["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert objects["secret"]["type"] == "Opaque" and objects["secret"]["data"] == {"a": "Yg=="}
    for resource, name in (("deploy", "d1"), ("svc", "s1"), ("cm", "c1"), ("secret", "x1")):
        missing = apiserver.kubectl("get", resource, name, "-n", namespace, check=False)
        assert missing.returncode == 1 and "NotFound" in missing.stderr, resource


def test_create_dry_run_server_of_an_existing_name_is_already_exists(apiserver: Any, namespace: str) -> None:
    # registry/generic/registry/dryrun.go DryRunnableStorage.Create: with dryRun it reads the key and
    # returns storage.NewKeyExistsError if the object exists, which the store turns into
    # 409 AlreadyExists `configmaps "dup" already exists`, exactly as a real create.
    apiserver.kubectl("create", "configmap", "dup", "-n", namespace, "--from-literal=a=b")
    result = apiserver.kubectl("create", "configmap", "dup", "-n", namespace, "--from-literal=a=c",
                               "--dry-run=server", check=False)
    assert result.returncode == 1, result.stdout
    # kubectl's `create configmap` wraps the server's error in its own words (create_configmap.go).
    assert result.stderr.strip() == 'error: failed to create configmap: configmaps "dup" already exists'
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps?dryRun=All",
                                        json.loads(configmap("dup", {"a": "c"})))
    assert (status, body.get("reason"), body.get("message")) == (409, "AlreadyExists",
                                                                 'configmaps "dup" already exists'), body


# -- server-side apply, diff, replace --force ------------------------------------------------------

def test_server_side_apply_twice_and_conflicts_with_update_managers(apiserver: Any, namespace: str) -> None:
    name = unique("owned")
    apply = ("apply", "--server-side", "-n", namespace, "-f", "-")
    manifest = configmap(name, {"x": "1"})
    # kubectl prints "serverside-applied" for every server-side apply, changed or not
    # (kubectl/pkg/cmd/apply/apply.go: the operation is always "serverside-applied").
    assert apiserver.kubectl(*apply, input=manifest).stdout.strip() == f"configmap/{name} serverside-applied"
    assert apiserver.kubectl(*apply, input=manifest).stdout.strip() == f"configmap/{name} serverside-applied"

    apiserver.kubectl("label", "configmap", name, "-n", namespace, "a=0", "b=0")
    apiserver.kubectl("patch", "configmap", name, "-n", namespace, "--type=merge", "-p", '{"data":{"y":"0"}}')
    # structured-merge-diff conflicts (apiserver/pkg/endpoints/handlers/fieldmanager/internal/conflict.go
    # getConflictMessage/printManager): several conflicts are grouped per manager, managers sorted,
    # and an Update manager is printed as `"<name>" using <apiVersion>`.
    wanted = configmap(name, {"x": "1", "y": "1"}, labels={"a": "1", "b": "1"})
    failed = apiserver.kubectl(*apply, input=wanted, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        'error: Apply failed with 3 conflicts: conflicts with "kubectl-label" using v1:\n'
        "- .metadata.labels.a\n- .metadata.labels.b\n"
        'conflicts with "kubectl-patch" using v1:\n- .data.y\n'
        "Please review the fields above--they currently have other managers."), failed.stderr
    status, body, _ = apiserver.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/{name}?fieldManager=kubectl",
        yaml.safe_dump(json.loads(wanted)).encode(), "application/apply-patch+yaml")
    assert (status, body["reason"]) == (409, "Conflict")
    assert sorted((c["reason"], c["message"], c["field"]) for c in body["details"]["causes"]) == [
        ("FieldManagerConflict", 'conflict with "kubectl-label" using v1', ".metadata.labels.a"),
        ("FieldManagerConflict", 'conflict with "kubectl-label" using v1', ".metadata.labels.b"),
        ("FieldManagerConflict", 'conflict with "kubectl-patch" using v1', ".data.y")]

    assert "serverside-applied" in apiserver.kubectl(*apply[:2], "--force-conflicts", *apply[2:], input=wanted).stdout
    obj = get_json(apiserver, namespace, "configmap", name, "--show-managed-fields")
    assert obj["data"] == {"x": "1", "y": "1"} and obj["metadata"]["labels"] == {"a": "1", "b": "1"}
    # Forcing removes only the conflicting paths from the other managers (structured-merge-diff
    # merge.Updater: the conflicts are subtracted from each owner's set) and drops a manager left
    # with an empty set: kubectl-patch owned just .data.y and goes; kubectl-label keeps the labels
    # map itself, which it created and which the applier's leaves do not claim; a member without
    # children serializes as `{}` ("." appears only beside children: fieldpath/serialize.go).
    managers = {m["manager"]: m["fieldsV1"] for m in obj["metadata"]["managedFields"]}
    assert sorted(managers) == ["kubectl", "kubectl-label"]
    assert managers["kubectl-label"] == {"f:metadata": {"f:labels": {}}}
    assert managers["kubectl"] == {"f:data": {"f:x": {}, "f:y": {}},
                                   "f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}}


def test_diff_server_side_shows_the_server_result_and_exit_codes(apiserver: Any, namespace: str) -> None:
    # kubectl diff exits 1 when there are differences and 0 when none (kubectl/pkg/cmd/diff);
    # --server-side asks the server for a dry-run apply.
    name = unique("d")
    diff = ("diff", "--server-side", "-n", namespace, "-f", "-")
    new = apiserver.kubectl(*diff, input=configmap(name, {"k": "v1"}), check=False)
    assert new.returncode == 1, new.stderr
    assert "+  k: v1" in new.stdout and f"+  name: {name}" in new.stdout
    apiserver.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=configmap(name, {"k": "v1"}))
    same = apiserver.kubectl(*diff, input=configmap(name, {"k": "v1"}), check=False)
    assert (same.returncode, same.stdout) == (0, ""), same.stderr
    changed = apiserver.kubectl(*diff, input=configmap(name, {"k": "v2"}), check=False)
    assert changed.returncode == 1
    assert "-  k: v1" in changed.stdout and "+  k: v2" in changed.stdout
    assert get_json(apiserver, namespace, "configmap", name)["data"] == {"k": "v1"}  # diff never writes


def test_replace_force_deletes_and_recreates(apiserver: Any, namespace: str) -> None:
    name = unique("r")
    apiserver.kubectl("create", "-n", namespace, "-f", "-", input=configmap(name, {"k": "1"}))
    before = get_json(apiserver, namespace, "configmap", name)
    out = apiserver.kubectl("replace", "--force", "-n", namespace, "-f", "-", input=configmap(name, {"k": "2"})).stdout
    assert out.splitlines() == [f'configmap "{name}" deleted from {namespace} namespace', f"configmap/{name} replaced"]
    after = get_json(apiserver, namespace, "configmap", name)
    assert after["data"] == {"k": "2"}
    assert after["metadata"]["uid"] != before["metadata"]["uid"]


# -- failing patch, label, annotate ----------------------------------------------------------------

def test_json_patch_with_a_failing_test_op(apiserver: Any, namespace: str) -> None:
    # apiserver/pkg/endpoints/handlers/patch.go applyJSPatch: a patch that does not apply answers
    # errors.NewGenericServerResponse(422, ...), whose message is the fixed text (the reason from
    # json-patch is dropped) and whose details is a non-nil empty StatusDetails, serialized as {}
    # (apimachinery/pkg/api/errors/errors.go). kubectl then prints the same line a real cluster
    # gives (kubernetes-client/javascript#2095 quotes it).
    apiserver.kubectl("create", "configmap", "p", "-n", namespace, "--from-literal=a=b")
    failed = apiserver.kubectl("patch", "configmap", "p", "-n", namespace, "--type", "json",
                               "-p", '[{"op":"test","path":"/data/a","value":"zzz"}]', check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip() == \
        "The request is invalid: the server rejected our request due to an error in our request"
    assert get_json(apiserver, namespace, "configmap", "p")["data"] == {"a": "b"}
    status, body, _ = apiserver.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/p",
                                        [{"op": "test", "path": "/data/a", "value": "zzz"}],
                                        "application/json-patch+json")
    assert status == 422
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server rejected our request due to an error in our request",
                    "reason": "Invalid", "details": {}, "code": 422}


def test_label_without_overwrite_and_annotate_list(apiserver: Any, namespace: str) -> None:
    # kubectl/pkg/cmd/label/label.go validateNoOverwrites: "'%s' already has a value (%s), and
    # --overwrite is false"; nothing is sent to the server.
    apiserver.kubectl("create", "configmap", "l", "-n", namespace, "--from-literal=a=b")
    apiserver.kubectl("label", "configmap", "l", "-n", namespace, "tier=gold")
    failed = apiserver.kubectl("label", "configmap", "l", "-n", namespace, "tier=silver", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "error: 'tier' already has a value (gold), and --overwrite is false"
    out = apiserver.kubectl("label", "configmap", "l", "-n", namespace, "tier=silver", "--overwrite").stdout
    assert out.strip() == "configmap/l labeled"
    assert get_json(apiserver, namespace, "configmap", "l")["metadata"]["labels"] == {"tier": "silver"}
    apiserver.kubectl("annotate", "configmap", "l", "-n", namespace, "note=hi", "owner=team-a")
    listed = apiserver.kubectl("annotate", "configmap", "l", "-n", namespace, "--list").stdout.splitlines()
    assert sorted(listed) == ["note=hi", "owner=team-a"]


# -- kubectl wait -----------------------------------------------------------------------------------

def _background_wait(apiserver: Any, namespace: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([KUBECTL, "--kubeconfig", str(apiserver.kubeconfig), "wait", "-n", namespace,
                             "--timeout=20s", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_wait_for_delete_and_for_jsonpath_follow_later_changes(apiserver: Any, namespace: str) -> None:
    # kubectl wait lists then watches with fieldSelector metadata.name=<name>
    # (kubectl/pkg/cmd/wait): deletion is seen when the finalizer goes, the jsonpath condition when
    # the value changes.
    apiserver.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    apiserver.kubectl("create", "configmap", "flag", "-n", namespace, "--from-literal=state=off")
    apiserver.kubectl("delete", "configmap", "held", "-n", namespace, "--wait=false")
    deleted = _background_wait(apiserver, namespace, "--for=delete", "configmap/held")
    switched = _background_wait(apiserver, namespace, "--for=jsonpath={.data.state}=on", "configmap/flag")
    try:
        # Give the waiters time to reach their watch, so the changes below arrive as watch events
        # (had they come first, the initial list would see them: correct either way, no race).
        time.sleep(1)
        apiserver.kubectl("patch", "configmap", "held", "-n", namespace, "--type=json",
                          "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        apiserver.kubectl("patch", "configmap", "flag", "-n", namespace, "--type=merge", "-p", '{"data":{"state":"on"}}')
        assert deleted.communicate(timeout=30) == ("configmap/held condition met\n", "")
        assert switched.communicate(timeout=30) == ("configmap/flag condition met\n", "")
    finally:
        for process in (deleted, switched):
            if process.poll() is None:
                process.kill()
                process.wait()
    timed_out = apiserver.kubectl("wait", "-n", namespace, "--for=jsonpath={.data.state}=never",
                                  "configmap/flag", "--timeout=1s", check=False)
    assert timed_out.returncode == 1
    assert timed_out.stderr.strip() == "error: timed out waiting for the condition on configmaps/flag"


# -- kubectl get options ----------------------------------------------------------------------------

def test_get_show_managed_fields_sort_by_and_label_columns(apiserver: Any, namespace: str) -> None:
    for name, tier in (("b-two", "gold"), ("c-three", ""), ("a-one", "silver")):
        apiserver.kubectl("create", "configmap", name, "-n", namespace, "--from-literal=k=v")
        if tier:
            apiserver.kubectl("label", "configmap", name, "-n", namespace, f"tier={tier}")
    plain = yaml.safe_load(apiserver.kubectl("get", "configmap", "a-one", "-n", namespace, "-o", "yaml").stdout)
    assert "managedFields" not in plain["metadata"]
    shown = yaml.safe_load(apiserver.kubectl("get", "configmap", "a-one", "-n", namespace, "-o", "yaml",
                                             "--show-managed-fields").stdout)
    assert [(m["manager"], m["operation"]) for m in shown["metadata"]["managedFields"]] == [
        ("kubectl-create", "Update"), ("kubectl-label", "Update")]
    assert shown["metadata"]["managedFields"][1]["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:tier": {}}}}

    table = apiserver.kubectl("get", "configmaps", "-n", namespace, "--sort-by=.metadata.name",
                              "-L", "tier").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE", "TIER"]
    assert [line.split()[0] for line in table[1:]] == ["a-one", "b-two", "c-three"]
    assert [line.split()[3:] for line in table[1:]] == [["silver"], ["gold"], []]


def test_get_all_with_chunk_size_pages_through_every_type(apiserver: Any, namespace: str) -> None:
    # --chunk-size=2 lists each type with limit=2 and follows metadata.continue to the end
    # (cli-runtime resource.Helper / kubectl get), so nothing is lost between pages.
    for i in range(5):
        apiserver.kubectl("run", f"p{i}", "--image=nginx", "-n", namespace)
    for i in range(3):
        apiserver.kubectl("create", "service", "clusterip", f"s{i}", "--tcp=80", "-n", namespace)
    result = apiserver.kubectl("get", "all", "-n", namespace, "--chunk-size=2", "-o", "name", "-v=6")
    assert sorted(result.stdout.split()) == sorted([f"pod/p{i}" for i in range(5)] +
                                                   [f"service/s{i}" for i in range(3)])
    pod_pages = [line for line in result.stderr.splitlines() if f"/namespaces/{namespace}/pods?" in line]
    assert len(pod_pages) == 3 and all("limit=2" in line for line in pod_pages)
    assert sum("continue=" in line for line in pod_pages) == 2


@pytest.fixture
def other_namespace(apiserver: Any) -> Iterator[str]:
    name = unique("t-other")
    apiserver.kubectl("create", "namespace", name)
    yield name
    apiserver.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def test_delete_all_in_a_namespace_leaves_other_namespaces(apiserver: Any, namespace: str,
                                                          other_namespace: str) -> None:
    for name in ("x1", "x2"):
        apiserver.kubectl("create", "configmap", name, "-n", namespace, "--from-literal=k=v")
    apiserver.kubectl("create", "configmap", "keep", "-n", other_namespace, "--from-literal=k=v")
    out = apiserver.kubectl("delete", "configmaps", "--all", "-n", namespace).stdout.splitlines()
    assert sorted(out) == [f'configmap "x1" deleted from {namespace} namespace',
                           f'configmap "x2" deleted from {namespace} namespace']
    assert apiserver.kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout == ""
    assert apiserver.kubectl("get", "configmaps", "-n", other_namespace, "-o", "name").stdout.split() == \
        ["configmap/keep"]


def test_delete_dry_run_server_keeps_the_objects(apiserver: Any, namespace: str) -> None:
    # kubectl delete --dry-run=server sends DELETE with the body DeleteOptions{dryRun: ["All"]} and
    # no dryRun query parameter (seen with -v=8). Upstream decodes DeleteOptions from the body when
    # there is one (apiserver/pkg/endpoints/handlers/delete.go DeleteResource and DeleteCollection)
    # and honours dryrun.IsDryRun(options.DryRun): nothing is deleted.
    for name in ("a", "b", "c"):
        apiserver.kubectl("create", "configmap", name, "-n", namespace, "--from-literal=k=v")
    one = apiserver.kubectl("delete", "configmap", "a", "-n", namespace, "--dry-run=server").stdout
    assert one.strip() == f'configmap "a" deleted from {namespace} namespace (server dry run)'
    still_there = apiserver.kubectl("get", "configmap", "a", "-n", namespace, check=False)
    assert still_there.returncode == 0, f"a dry-run delete removed the object: {still_there.stderr}"
    every = apiserver.kubectl("delete", "configmaps", "--all", "-n", namespace, "--dry-run=server").stdout
    assert len(every.splitlines()) == 3 and all(line.endswith("(server dry run)") for line in every.splitlines())
    assert apiserver.kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split() == \
        ["configmap/a", "configmap/b", "configmap/c"]

    options = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}
    status, body, _ = apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/b", options)
    assert status == 200, body
    status, body, _ = apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps", options)
    assert status == 200, body
    assert apiserver.kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split() == \
        ["configmap/a", "configmap/b", "configmap/c"]


# -- kubectl explain ---------------------------------------------------------------------------------

def test_explain_reads_the_published_openapi_v3(apiserver: Any) -> None:
    # kubectl 1.36 explain renders /openapi/v3/<group-version> with its plaintext template
    # (kubectl/pkg/explain/v2/templates/plaintext.tmpl): GROUP only for named groups, and
    # "-required-" from each schema's `required` list as kube-apiserver publishes it.
    pods = apiserver.kubectl("explain", "pods", "--api-version=v1").stdout.splitlines()
    assert pods[:2] == ["KIND:       Pod", "VERSION:    v1"]
    assert "  spec\t<PodSpec>" in pods and "  status\t<PodStatus>" in pods
    spec = apiserver.kubectl("explain", "--recursive", "deployment.spec").stdout.splitlines()
    assert spec[:3] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1"]
    assert "FIELD: spec <DeploymentSpec>" in spec
    for line in ("  replicas\t<integer>", "  selector\t<LabelSelector> -required-",
                 "  template\t<PodTemplateSpec> -required-", "    spec\t<PodSpec>",
                 "      containers\t<[]Container> -required-", "        name\t<string> -required-",
                 "    rollingUpdate\t<RollingUpdateDeployment>", "      maxSurge\t<IntOrString>"):
        assert line in spec, line
