"""audit.k8s.io/v1 Event shapes per level and stage, built the way the server drives a request."""

from __future__ import annotations

import re
from typing import Any

import orjson

from kubeplane.apiserver.audit import Policy, RequestAudit
from kubeplane.apiserver.authz import Decision, UserInfo
from kubeplane.apiserver.requestinfo import parse_request_info

ADMIN = UserInfo("admin", ("system:masters", "system:authenticated"))
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Collect:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[bytes] = []

    def process(self, event: dict[str, Any]) -> None:
        line = orjson.dumps(event)  # as the log backend encodes it
        self.lines.append(line)
        self.events.append(orjson.loads(line))


def audit_for(level: str, method: str, path: str, *, watch: bool = False, omit_managed_fields: bool = False,
              **rule: Any) -> tuple[RequestAudit, Collect]:
    sink = Collect()
    policy = Policy.parse({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitManagedFields": omit_managed_fields,
                           "rules": [{"level": level, **rule}]})
    info = parse_request_info(method, path, watch)
    return RequestAudit(policy, sink, info, path + "?fieldManager=kubectl", "kubectl/v1.31.0",
                        ["10.0.0.1", "127.0.0.1"]), sink


SECRET = {"apiVersion": "v1", "kind": "Secret",
          "metadata": {"name": "s1", "managedFields": [{"manager": "kubectl"}]}, "data": {"k": "dg=="}}


def test_create_at_request_response() -> None:
    audit, sink = audit_for("RequestResponse", "POST", "/api/v1/namespaces/ns1/secrets")
    audit.authenticated(ADMIN)
    audit.impersonated(ADMIN)
    audit.authorized(Decision(True, 'RBAC: allowed by ClusterRoleBinding "x"'))
    body = {**SECRET, "metadata": dict(SECRET["metadata"])}
    audit.request_object(body)
    body["metadata"]["uid"] = "changed-after-logging"  # the handlers mutate the decoded body
    created = orjson.dumps({**SECRET, "metadata": {**SECRET["metadata"], "uid": "u1", "namespace": "ns1"}})
    audit.complete(201, created, "application/json")
    received, complete = sink.events
    assert received["stage"] == "RequestReceived" and complete["stage"] == "ResponseComplete"
    assert received["auditID"] == complete["auditID"] == audit.audit_id
    assert "requestObject" not in received and "responseStatus" not in received
    assert complete["kind"] == "Event" and complete["apiVersion"] == "audit.k8s.io/v1"
    assert complete["level"] == "RequestResponse"
    assert complete["verb"] == "create"
    assert complete["requestURI"] == "/api/v1/namespaces/ns1/secrets?fieldManager=kubectl"
    assert complete["user"] == {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
    assert "impersonatedUser" not in complete
    assert complete["sourceIPs"] == ["10.0.0.1", "127.0.0.1"]
    assert complete["userAgent"] == "kubectl/v1.31.0"
    # The name came from the request body: a create's URL has none.
    assert complete["objectRef"] == {"resource": "secrets", "namespace": "ns1", "name": "s1", "apiVersion": "v1"}
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["requestObject"] == SECRET
    assert complete["responseObject"]["metadata"]["uid"] == "u1"
    assert complete["annotations"] == {"authorization.k8s.io/decision": "allow",
                                       "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "x"'}
    assert MICRO_TIME.match(complete["requestReceivedTimestamp"]) and MICRO_TIME.match(complete["stageTimestamp"])
    assert complete["requestReceivedTimestamp"] == received["requestReceivedTimestamp"]


def test_metadata_level_has_no_bodies_and_forbidden_status_is_copied() -> None:
    audit, sink = audit_for("Metadata", "PUT", "/apis/apps/v1/namespaces/ns1/deployments/web/scale")
    audit.authenticated(UserInfo("bob", ("system:authenticated",)))
    audit.authorized(Decision(False, ""))
    audit.request_object({"kind": "Scale", "spec": {"replicas": 3}})
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": "deployments.apps \"web\" is forbidden", "reason": "Forbidden", "code": 403,
              "details": {"name": "web", "group": "apps", "kind": "deployments"}}
    audit.complete(403, orjson.dumps(status), "application/json")
    complete = sink.events[-1]
    assert "requestObject" not in complete and "responseObject" not in complete
    assert complete["objectRef"] == {"resource": "deployments", "namespace": "ns1", "name": "web",
                                     "apiGroup": "apps", "apiVersion": "v1", "subresource": "scale"}
    assert complete["responseStatus"] == {"metadata": {}, "status": "Failure", "reason": "Forbidden",
                                          "message": "deployments.apps \"web\" is forbidden",
                                          "details": {"name": "web", "group": "apps", "kind": "deployments"},
                                          "code": 403}
    assert complete["annotations"] == {"authorization.k8s.io/decision": "forbid"}


def test_request_level_logs_request_but_not_response_and_impersonation() -> None:
    audit, sink = audit_for("Request", "PATCH", "/api/v1/namespaces/ns1/configmaps/c")
    audit.authenticated(ADMIN)
    audit.impersonated(UserInfo("jane", ("dev", "system:authenticated")))
    audit.request_object({"data": {"a": "b"}})
    audit.complete(200, b'{"kind":"ConfigMap"}', "application/json")
    complete = sink.events[-1]
    assert complete["requestObject"] == {"data": {"a": "b"}}
    assert "responseObject" not in complete
    assert complete["user"]["username"] == "admin"
    assert complete["impersonatedUser"] == {"username": "jane", "groups": ["dev", "system:authenticated"]}


def test_omit_managed_fields_and_omit_stages() -> None:
    audit, sink = audit_for("RequestResponse", "POST", "/api/v1/namespaces/ns1/secrets", omit_managed_fields=True,
                            omitStages=["RequestReceived"])
    audit.authenticated(ADMIN)
    audit.request_object(SECRET)
    listing = {"kind": "SecretList", "items": [SECRET]}
    audit.complete(201, orjson.dumps(listing), "application/json")
    assert [e["stage"] for e in sink.events] == ["ResponseComplete"]
    complete = sink.events[0]
    assert "managedFields" not in complete["requestObject"]["metadata"]
    assert "managedFields" not in complete["responseObject"]["items"][0]["metadata"]
    assert SECRET["metadata"]["managedFields"]  # the caller's object is untouched


def test_watch_stages_and_no_response_body() -> None:
    audit, sink = audit_for("RequestResponse", "GET", "/api/v1/namespaces/ns1/pods", watch=True)
    audit.authenticated(ADMIN)
    assert audit.long_running
    audit.response_started(200)
    audit.complete(200)
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert sink.events[1]["verb"] == "watch" and sink.events[1]["responseStatus"]["code"] == 200
    assert "responseObject" not in sink.events[2]


def test_unauthenticated_and_panic_and_none() -> None:
    audit, sink = audit_for("Metadata", "GET", "/api/v1/namespaces/ns1/pods")
    audit.complete(401, orjson.dumps({"kind": "Status", "status": "Failure", "reason": "Unauthorized",
                                      "code": 401}), "application/json")
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "ResponseComplete"]
    assert sink.events[-1]["user"] == {} and sink.events[-1]["responseStatus"]["code"] == 401

    audit, sink = audit_for("Metadata", "GET", "/api/v1/namespaces/ns1/pods")
    audit.authenticated(ADMIN)
    audit.panic()
    audit.complete(500)
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "Panic"]
    assert sink.events[-1]["responseStatus"]["code"] == 500

    audit, sink = audit_for("None", "GET", "/api/v1/namespaces/ns1/pods")
    audit.authenticated(ADMIN)
    audit.request_object(SECRET)
    audit.complete(200, b"{}", "application/json")
    assert sink.events == []


def test_non_resource_request_has_no_object_ref_or_response_object() -> None:
    audit, sink = audit_for("RequestResponse", "GET", "/version")
    audit.authenticated(ADMIN)
    audit.complete(200, b'{"major":"1"}', "application/json")
    complete = sink.events[-1]
    assert complete["verb"] == "get" and "objectRef" not in complete and "responseObject" not in complete


def test_disabled_policy_still_hands_out_ids() -> None:
    info = parse_request_info("GET", "/api/v1/pods", False)
    first = RequestAudit(None, None, info, "/api/v1/pods", "", [])
    second = RequestAudit(None, None, info, "/api/v1/pods", "", [], audit_id="from-client")
    first.authenticated(ADMIN)
    first.complete(200, b"{}", "application/json")
    assert re.match(r"^[0-9a-f-]{36}$", first.audit_id) and second.audit_id == "from-client"


def test_yaml_and_multi_line_responses_stay_one_line_per_event() -> None:
    for body, content_type in ((b"kind: Secret\nmetadata:\n  name: s1\n", "application/yaml"),
                               (b'{\n  "kind": "Secret",\n  "metadata": {"name": "s1"}\n}', "application/json")):
        audit, sink = audit_for("RequestResponse", "GET", "/api/v1/namespaces/ns1/secrets/s1")
        audit.authenticated(ADMIN)
        audit.complete(200, body, content_type)
        assert sink.events[-1]["responseObject"] == {"kind": "Secret", "metadata": {"name": "s1"}}
        assert b"\n" not in sink.lines[-1]
