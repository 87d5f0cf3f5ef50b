"""Query parameters of list, watch and write requests, checked as upstream's option validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubeplane.apiserver.registry.context import (
    FIELD_VALIDATION_IGNORE,
    FIELD_VALIDATION_STRICT,
    FIELD_VALIDATION_WARN,
)
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.managedfields import field_manager_errors
from kubeplane.storage import interface as st


def _bool(query: Mapping[str, str], name: str) -> bool | None:
    """Upstream's query-parameter booleans (Convert_Slice_string_To_bool): absent is unset, "0" and
    "false" in any case are false, anything else (even an empty value) is true."""
    value = query.get(name)
    if value is None:
        return None
    return query_flag(value)


def query_flag(value: str) -> bool:
    return value != "0" and value.lower() != "false"


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise errors.bad_request(f'invalid value for {name}: "{value}": must be an integer') from exc


@dataclass
class ListQuery:
    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""
    watch: bool = False
    allow_bookmarks: bool = False
    timeout_seconds: int | None = None
    send_initial_events: bool | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str], watch: bool) -> ListQuery:
        q = cls(
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
            limit=_int(query, "limit") or 0,
            continue_token=query.get("continue", ""),
            watch=watch,
            allow_bookmarks=bool(_bool(query, "allowWatchBookmarks")),
            timeout_seconds=_int(query, "timeoutSeconds"),
            send_initial_events=_bool(query, "sendInitialEvents"),
        )
        q.validate()
        return q

    def validate(self) -> None:
        """Upstream's ValidateListOptions / validateWatchOptions, causes in upstream's order."""
        causes = self._watch_causes() if self.watch else self._list_causes()
        if self.resource_version and self.resource_version != "0":
            try:
                if int(self.resource_version) < 0:
                    raise ValueError
            except ValueError:
                raise errors.bad_request(f'invalid resource version: "{self.resource_version}"') from None
        if self.limit < 0:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {self.limit}: must be non-negative",
                                "limit"))
        if causes:
            raise errors.invalid("meta.k8s.io", "ListOptions", "", causes)
        if not self.watch and self.continue_token and self.resource_version not in ("", "0"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")

    def _list_causes(self) -> list[Cause]:
        causes: list[Cause] = []
        match = self.resource_version_match
        if match:
            if not self.resource_version:
                causes.append(_forbidden_match("resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if self.continue_token:
                causes.append(_forbidden_match("resourceVersionMatch is forbidden when continue is provided"))
            if match not in (st.MATCH_EXACT, st.MATCH_NOT_OLDER_THAN):
                causes.append(Cause("FieldValueNotSupported",
                                    f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""',
                                    "resourceVersionMatch"))
            if match == st.MATCH_EXACT and self.resource_version == "0":
                causes.append(_forbidden_match('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if self.send_initial_events is not None:
            causes.append(Cause("FieldValueForbidden", "Forbidden: sendInitialEvents is forbidden for list",
                                "sendInitialEvents"))
        return causes

    def _watch_causes(self) -> list[Cause]:
        causes: list[Cause] = []
        match = self.resource_version_match
        if self.send_initial_events is not None and match != st.MATCH_NOT_OLDER_THAN:
            causes.append(_forbidden_match("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        if match:
            if self.send_initial_events is None:
                causes.append(_forbidden_match(
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            if match != st.MATCH_NOT_OLDER_THAN:
                causes.append(Cause("FieldValueNotSupported",
                                    f'Unsupported value: "{match}": supported values: "NotOlderThan"',
                                    "resourceVersionMatch"))
            if self.continue_token:
                causes.append(_forbidden_match("resourceVersionMatch is forbidden when continue is provided"))
        return causes


def _forbidden_match(detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", "resourceVersionMatch")


@dataclass
class WriteQuery:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = FIELD_VALIDATION_WARN
    force: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str], verb: str = "create") -> WriteQuery:
        """``verb`` names the options kind in errors, as upstream: CreateOptions, UpdateOptions, ..."""
        options_kind = _OPTIONS_KIND.get(verb, "CreateOptions")
        getall = getattr(query, "getall", None)
        dry: list[str] = list(getall("dryRun", [])) if getall else [query.get("dryRun", "")]
        for value in dry:
            if value not in ("", "All"):
                raise errors.invalid("meta.k8s.io", options_kind, "", [Cause(
                    "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: "All"', "dryRun")])
        validation = query.get("fieldValidation") or FIELD_VALIDATION_WARN
        if validation not in (FIELD_VALIDATION_STRICT, FIELD_VALIDATION_WARN, FIELD_VALIDATION_IGNORE):
            raise errors.bad_request(
                f"fieldValidation must be one of Ignore, Warn, or Strict, got {validation!r}".replace("'", ""))
        manager = query.get("fieldManager", "")
        causes = field_manager_errors(manager)
        if causes:
            raise errors.invalid("meta.k8s.io", options_kind, "", causes)
        return cls("All" in dry, manager, validation, bool(_bool(query, "force")))


_OPTIONS_KIND = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions",
                 "delete": "DeleteOptions", "deletecollection": "DeleteOptions"}
