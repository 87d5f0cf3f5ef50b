"""One request's audit record (audit.k8s.io/v1 Event), filled in as the request goes through the
server and emitted at each stage the policy keeps.

``RequestAudit`` is created for every request (it also carries the ``Audit-Id`` the response
returns); when the policy says None, every method is a cheap no-op.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import yaml

from kubeplane.apiserver.audit.backend import Backend
from kubeplane.apiserver.audit.policy import DO_NOT_AUDIT, Level, Policy, RequestAuditConfig, Stage
from kubeplane.apiserver.authz import Decision, UserInfo
from kubeplane.apiserver.requestinfo import RequestInfo

JSON = dict[str, Any]

AUDIT_ID_HEADER = "Audit-Id"
DECISION_ANNOTATION = "authorization.k8s.io/decision"
REASON_ANNOTATION = "authorization.k8s.io/reason"
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime's wire form: RFC 3339 in UTC with microseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user_json(user: UserInfo) -> JSON:
    out: JSON = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def source_ips(forwarded_for: str | None, real_ip: str | None, remote: str | None) -> list[str]:
    """The client chain as upstream reports it: X-Forwarded-For, else X-Real-Ip, then the peer."""
    ips = [ip.strip() for ip in (forwarded_for or "").split(",") if ip.strip()]
    if not ips and real_ip:
        ips = [real_ip.strip()]
    if remote and (not ips or ips[-1] != remote):
        ips.append(remote)
    return ips


def without_managed_fields(obj: Any) -> Any:
    """``obj`` (or each item of a list) without ``metadata.managedFields``; the input is not changed."""
    if not isinstance(obj, dict):
        return obj
    out = obj
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    items = obj.get("items")
    if isinstance(items, list):
        out = {**out, "items": [without_managed_fields(item) for item in items]}
    return out


class RequestAudit:
    def __init__(self, policy: Policy | None, backend: Backend | None, info: RequestInfo, request_uri: str,
                 user_agent: str, ips: list[str], audit_id: str = "") -> None:
        self.audit_id = audit_id or str(uuid.uuid4())
        self._policy = policy if backend is not None else None
        self._backend = backend
        self._info = info
        self._request_uri = request_uri
        self._user_agent = user_agent
        self._source_ips = ips
        self._received = datetime.now(UTC)
        self._config: RequestAuditConfig | None = None if self._policy is not None else DO_NOT_AUDIT
        self._user: UserInfo | None = None
        self._impersonated: UserInfo | None = None
        self._annotations: dict[str, str] = {}
        self._request_object: orjson.Fragment | None = None
        self._object_ref: JSON | None = None
        self.response_started_sent = False
        self._finished = False  # after Panic, no ResponseComplete follows (as upstream)

    @property
    def long_running(self) -> bool:
        """A watch or a stream (upstream's long-running check): its headers go out long before it
        completes, which is the ResponseStarted stage."""
        return self._info.verb == "watch" or self._info.subresource in LONG_RUNNING_SUBRESOURCES

    @property
    def level(self) -> Level:
        return self._config.level if self._config is not None else Level.NONE

    # --- facts, in the order the server learns them -------------------------------------------
    def authenticated(self, user: UserInfo | None) -> None:
        """The policy is evaluated for the authenticated user (before impersonation, as upstream)."""
        if self._config is not None:
            return
        assert self._policy is not None
        self._user = user
        self._config = self._policy.evaluate(user, self._info)
        self._emit(Stage.REQUEST_RECEIVED)

    def impersonated(self, user: UserInfo) -> None:
        if self.level and user is not self._user:
            self._impersonated = user

    def authorized(self, decision: Decision) -> None:
        if not self.level:
            return
        self._annotations[DECISION_ANNOTATION] = "allow" if decision.allowed else "forbid"
        if decision.reason:
            self._annotations[REASON_ANNOTATION] = decision.reason

    def annotation_sink(self) -> dict[str, str]:
        """The dict admission plugins add this event's annotations to (a throwaway one when the
        request is not logged)."""
        return self._annotations if self.level else {}

    def request_object(self, obj: Any) -> None:
        if not self.level or not isinstance(obj, dict):
            return
        self._complete_object_ref(obj)
        if self.level >= Level.REQUEST:
            assert self._config is not None
            logged = without_managed_fields(obj) if self._config.omit_managed_fields else obj
            # Encoded now: the handlers go on to default and mutate this very dict.
            self._request_object = orjson.Fragment(orjson.dumps(logged))

    # --- stages -------------------------------------------------------------------------------
    def response_started(self, code: int) -> None:
        """Headers of a long-running response (a watch) are going out."""
        if self._config is None:
            self.authenticated(None)
        self.response_started_sent = True
        self._emit(Stage.RESPONSE_STARTED, self._status(code, None))

    def complete(self, code: int, body: bytes | None = None, content_type: str = "") -> None:
        if self._config is None:  # failed before authentication finished (a 401)
            self.authenticated(None)
        if not self.level or self._finished:
            return
        self._finished = True
        status_body = _status_body(body, content_type) if body is not None else None
        event_response: Any = None
        if self.level >= Level.REQUEST_RESPONSE and body is not None and self._info.verb != "watch" and (
                self._info.is_resource_request or status_body is not None):
            event_response = self._response_object(body, content_type, status_body)
        self._emit(Stage.RESPONSE_COMPLETE, self._status(code, status_body), event_response)

    def _response_object(self, body: bytes, content_type: str, status_body: JSON | None) -> Any:
        assert self._config is not None
        if self._config.omit_managed_fields:
            return without_managed_fields(status_body or _decode(body, content_type))
        if content_type.startswith("application/json") and b"\n" not in body:
            # Already compact JSON: embedded as it is, so a large list is never decoded. A body with
            # newlines is re-encoded instead: each event must stay on one line of the log.
            return orjson.Fragment(body)
        return status_body or _decode(body, content_type)

    def panic(self) -> None:
        if self._config is None:
            self.authenticated(None)
        self._finished = True
        self._emit(Stage.PANIC, {"metadata": {}, "status": "Failure", "code": 500,
                                 "message": "APIServer panic'd: an unexpected error occurred"})

    # --- building the event ---------------------------------------------------------------------
    def _complete_object_ref(self, obj: JSON) -> None:
        """Name, namespace, uid and resourceVersion the URL did not give are taken from the object."""
        ref = self._ref()
        metadata = obj.get("metadata")
        if ref is None or not isinstance(metadata, dict):
            return
        for field in ("namespace", "name", "uid", "resourceVersion"):
            value = metadata.get(field)
            if not ref.get(field) and isinstance(value, str) and value:
                ref[field] = value

    def _ref(self) -> JSON | None:
        info = self._info
        if not info.is_resource_request:
            return None
        if self._object_ref is None:
            ref: JSON = {"resource": info.resource}
            if info.namespace:
                ref["namespace"] = info.namespace
            if info.name:
                ref["name"] = info.name
            if info.api_group:
                ref["apiGroup"] = info.api_group
            ref["apiVersion"] = info.api_version
            if info.subresource:
                ref["subresource"] = info.subresource
            self._object_ref = ref
        return self._object_ref

    @staticmethod
    def _status(code: int, response: JSON | None) -> JSON:
        if response is not None:
            status: JSON = {"metadata": {}}
            for key in ("status", "message", "reason", "details"):
                if response.get(key):
                    status[key] = response[key]
            status["code"] = response.get("code") or code
            return status
        return {"metadata": {}, "code": code}

    def _emit(self, stage: Stage, status: JSON | None = None, response_object: Any = None) -> None:
        config = self._config
        if config is None or not config.level or stage in config.omit_stages or self._backend is None:
            return
        event: JSON = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": config.level.wire,
                       "auditID": self.audit_id, "stage": stage.value, "requestURI": self._request_uri,
                       "verb": self._info.verb, "user": user_json(self._user) if self._user else {}}
        if self._impersonated is not None:
            event["impersonatedUser"] = user_json(self._impersonated)
        event["sourceIPs"] = self._source_ips
        if self._user_agent:
            event["userAgent"] = self._user_agent
        ref = self._ref()
        if ref is not None:
            event["objectRef"] = dict(ref)
        if status is not None:
            event["responseStatus"] = status
        if self._request_object is not None and stage != Stage.REQUEST_RECEIVED:
            event["requestObject"] = self._request_object
        if response_object is not None:
            event["responseObject"] = response_object
        event["requestReceivedTimestamp"] = micro_time(self._received)
        event["stageTimestamp"] = micro_time(datetime.now(UTC))
        if self._annotations:
            event["annotations"] = dict(self._annotations)
        self._backend.process(event)


def _is_status(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Status"


def _status_body(body: bytes, content_type: str) -> JSON | None:
    """The response when it is a Status (every error is), told by its first bytes so a large
    successful response is never decoded just to find out."""
    head = body[:40]
    if not (head.startswith(b'{"kind":"Status"') or head.startswith(b"kind: Status")):
        return None
    decoded = _decode(body, content_type)
    return decoded if _is_status(decoded) else None


def _decode(body: bytes, content_type: str) -> Any:
    try:
        if content_type.startswith("application/json"):
            return orjson.loads(body)
        if "yaml" in content_type:
            return yaml.safe_load(body)
    except (orjson.JSONDecodeError, yaml.YAMLError):
        return None
    return None
