"""Field selectors (k8s.io/apimachinery/pkg/fields) and the field labels each built-in resource offers.

A field selector is an AND of ``label=value`` / ``label!=value`` terms over a flat map of strings that
each resource computes from its objects (upstream's ``ToSelectableFields``). Which labels a resource
accepts, and the error for any other, come from upstream's field-label conversion functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeplane.machinery import errors
from kubeplane.machinery.labels import parse_selector

JSON = dict[str, Any]
FieldGetter = Callable[[JSON], dict[str, str]]
Predicate = Callable[[JSON], bool]

# --- the selector grammar ----------------------------------------------------------------------------

_OPERATORS = ("!=", "==", "=")  # "==" before "=" so the value never keeps a leading "="


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!=" ("==" is folded into "=")
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        # A missing field reads as "" (upstream's Fields.Get).
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator == "=" else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(selector: str) -> list[str]:
    # A backslash protects the next character, so "a=x\,y" is one term (the backslash stays for now).
    terms, start, escaped = [], 0, False
    for i, c in enumerate(selector):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    out, escaped = [], False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise errors.bad_request(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            # Go prints the rune with %v, i.e. as its code point number.
            raise errors.bad_request(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if escaped:
        raise errors.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(selector: str) -> FieldSelector:
    """Parse a ``fieldSelector`` query parameter; raise a 400 StatusError with upstream's text."""
    reqs = []
    for term in sorted(_split_terms(selector)) if selector else []:
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise errors.bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        lhs, op, rhs = split
        reqs.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape(rhs)))
    return FieldSelector(tuple(reqs))


# --- selectable fields per resource ------------------------------------------------------------------


def _get(obj: JSON, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _string(obj: JSON, path: str) -> str:
    value = _get(obj, path)
    return value if isinstance(value, str) else ""


def _integer(obj: JSON, path: str) -> str:
    value = _get(obj, path)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


def _boolean(obj: JSON, path: str) -> str:
    return "true" if _get(obj, path) is True else "false"


def _first_pod_ip(obj: JSON) -> str:
    ips = _get(obj, "status.podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], dict):
        return str(ips[0].get("ip", ""))
    return _string(obj, "status.podIP")


@dataclass(frozen=True)
class Extractor:
    """One selectable field: how to compute its string value, and which object paths it reads
    (so a cache can keep just those paths of each object and still evaluate any selector)."""

    read: Callable[[JSON], str]
    sources: tuple[str, ...]

    def __call__(self, obj: JSON) -> str:
        return self.read(obj)


def _typed(convert: Callable[[JSON, str], str], path: str) -> Extractor:
    return Extractor(lambda obj: convert(obj, path), (path,))


def _paths(**label_to_path: str) -> dict[str, Extractor]:
    return {label: _typed(_string, path) for label, path in label_to_path.items()}


_META_NAME = _paths(**{"metadata.name": "metadata.name"})
_META_NAMESPACE = _paths(**{"metadata.namespace": "metadata.namespace"})
_META = {**_META_NAME, **_META_NAMESPACE}


@dataclass(frozen=True)
class FieldSpec:
    """The labels a resource can be selected by, and the message for any other label."""

    extractors: Mapping[str, Extractor]
    unsupported: Callable[[str], str] = field(default=lambda label: f"field label not supported: {label}")
    aliases: Mapping[str, str] = field(default_factory=dict)  # old label -> current label


def _default_unsupported(label: str) -> str:
    return f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


_DEFAULT = FieldSpec(_META, _default_unsupported)

_CORE_EVENT_FIELDS = {
    **_META,
    **_paths(**{
        "involvedObject.kind": "involvedObject.kind",
        "involvedObject.namespace": "involvedObject.namespace",
        "involvedObject.name": "involvedObject.name",
        "involvedObject.uid": "involvedObject.uid",
        "involvedObject.apiVersion": "involvedObject.apiVersion",
        "involvedObject.resourceVersion": "involvedObject.resourceVersion",
        "involvedObject.fieldPath": "involvedObject.fieldPath",
        "reason": "reason",
        "reportingComponent": "reportingComponent",
        "source": "source.component",
        "type": "type",
    }),
}

# events.k8s.io/v1 shares storage with core events and upstream selects it by the core labels. A
# selector meets events.k8s.io objects (converted from storage), so the core labels read the renamed
# fields; the events.k8s.io names (regarding.*, reportingController) are accepted too.
_EVENTS_V1_PATHS = {
    "involvedObject.kind": "regarding.kind",
    "involvedObject.namespace": "regarding.namespace",
    "involvedObject.name": "regarding.name",
    "involvedObject.uid": "regarding.uid",
    "involvedObject.apiVersion": "regarding.apiVersion",
    "involvedObject.resourceVersion": "regarding.resourceVersion",
    "involvedObject.fieldPath": "regarding.fieldPath",
    "reason": "reason",
    "reportingComponent": "reportingController",
    "source": "deprecatedSource.component",
    "type": "type",
}
_EVENTS_V1_FIELDS = {
    **_META,
    **_paths(**_EVENTS_V1_PATHS),
    **_paths(**{path: path for path in _EVENTS_V1_PATHS.values()}),
}

_SPECS: dict[tuple[str, str], FieldSpec] = {
    ("", "pods"): FieldSpec({
        **_META,
        **_paths(**{"spec.nodeName": "spec.nodeName", "spec.restartPolicy": "spec.restartPolicy",
                    "spec.schedulerName": "spec.schedulerName",
                    "spec.serviceAccountName": "spec.serviceAccountName", "status.phase": "status.phase",
                    "status.nominatedNodeName": "status.nominatedNodeName"}),
        "spec.hostNetwork": _typed(_boolean, "spec.hostNetwork"),
        "status.podIP": Extractor(_first_pod_ip, ("status.podIPs", "status.podIP")),
        "status.podIPs": Extractor(_first_pod_ip, ("status.podIPs", "status.podIP")),
    }, aliases={"spec.host": "spec.nodeName"}),
    ("", "nodes"): FieldSpec({**_META_NAME, "spec.unschedulable": _typed(_boolean, "spec.unschedulable")}),
    ("", "replicationcontrollers"): FieldSpec({**_META, "status.replicas": _typed(_integer, "status.replicas")}),
    ("", "events"): FieldSpec(_CORE_EVENT_FIELDS),
    ("events.k8s.io", "events"): FieldSpec(_EVENTS_V1_FIELDS),
    ("", "namespaces"): FieldSpec({**_META_NAME, **_paths(**{"status.phase": "status.phase"})}),
    ("", "secrets"): FieldSpec({**_META, **_paths(type="type")}),
    ("", "services"): FieldSpec({**_META, **_paths(**{"spec.clusterIP": "spec.clusterIP", "spec.type": "spec.type"})}),
    ("apps", "replicasets"): FieldSpec({**_META, "status.replicas": _typed(_integer, "status.replicas")}),
    ("batch", "jobs"): FieldSpec({**_META, "status.successful": _typed(_integer, "status.succeeded")},
                                 unsupported=lambda label: f'field label "{label}" not supported for batchv1.Job'),
    ("certificates.k8s.io", "certificatesigningrequests"): FieldSpec(
        {**_META_NAME, **_paths(**{"spec.signerName": "spec.signerName"})}),
    ("certificates.k8s.io", "clustertrustbundles"): FieldSpec(
        {**_META_NAME, **_paths(**{"spec.signerName": "spec.signerName"})}),
    ("certificates.k8s.io", "podcertificaterequests"): FieldSpec(
        {**_META, **_paths(**{"spec.signerName": "spec.signerName", "spec.podName": "spec.podName",
                               "spec.nodeName": "spec.nodeName"})}),
    ("resource.k8s.io", "resourceslices"): FieldSpec(
        {**_META_NAME, **_paths(**{"spec.nodeName": "spec.nodeName", "spec.driver": "spec.driver"})},
        unsupported=lambda label: f"field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: {label}"),
}


def field_spec(group: str, resource: str) -> FieldSpec:
    return _SPECS.get((group, resource), _DEFAULT)


def field_getter(group: str, resource: str) -> FieldGetter:
    """A function returning the selectable fields (label -> string value) of an object of the resource."""
    extractors = field_spec(group, resource).extractors

    def selectable_fields(obj: JSON) -> dict[str, str]:
        return {label: extract(obj) for label, extract in extractors.items()}

    return selectable_fields


def selectable_projection(group: str, resource: str) -> Callable[[JSON], JSON]:
    """A function returning the part of an object that label and field selectors of the resource
    read: name, namespace and labels, plus the source paths of every selectable field. Any
    predicate from ``compile_predicate`` gives the same answer on the projection as on the object
    (upstream's watch cache keeps the same thing: an object's labels and selectable fields)."""
    sources = sorted({path for ex in field_spec(group, resource).extractors.values() for path in ex.sources}
                     - {"metadata.name", "metadata.namespace"})
    split = [path.split(".") for path in sources]

    def project(obj: JSON) -> JSON:
        meta = obj.get("metadata") or {}
        slim_meta = {key: meta[key] for key in ("name", "namespace", "labels") if key in meta}
        slim: JSON = {"metadata": slim_meta}
        for parts in split:
            value: Any = obj
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                continue
            target = slim
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        return slim

    return project


def _resolve_labels(spec: FieldSpec, selector: FieldSelector) -> FieldSelector:
    """Check every label is selectable for the resource (upstream's ConvertFieldLabel), applying aliases."""
    reqs = []
    for req in selector.requirements:
        label = spec.aliases.get(req.field, req.field)
        if label not in spec.extractors:
            raise errors.bad_request(spec.unsupported(req.field))
        reqs.append(FieldRequirement(label, req.operator, req.value))
    return FieldSelector(tuple(reqs))


def compile_field_selector(group: str, resource: str, selector: str) -> Predicate | None:
    """A predicate over objects for a ``fieldSelector`` string; None when it selects everything."""
    parsed = parse_field_selector(selector)
    if parsed.empty:
        return None
    spec = field_spec(group, resource)
    resolved = _resolve_labels(spec, parsed)
    extractors = spec.extractors

    def matches(obj: JSON) -> bool:
        # Compute only the labels the selector names: cheaper than the whole field set per object.
        return all(r.matches({r.field: extractors[r.field](obj)}) for r in resolved.requirements)

    return matches


def compile_predicate(group: str, resource: str, label_selector: str, field_selector: str) -> Predicate | None:
    """Combined label + field predicate for a LIST/WATCH; None when both selectors are empty."""
    labels = parse_selector(label_selector) if label_selector else None
    fields = compile_field_selector(group, resource, field_selector) if field_selector else None
    if labels is not None and labels.empty:
        labels = None
    if labels is None:
        return fields
    label_matcher = labels

    def matches(obj: JSON) -> bool:
        meta = obj.get("metadata") or {}
        if not label_matcher.matches(meta.get("labels")):
            return False
        return fields is None or fields(obj)

    return matches
