"""CEL validation rules (x-kubernetes-validations): scoping, macros, transition rules, messages."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.apiextensions.cel import validate_object, validate_schema_rules
from kubeplane.apiserver.apiextensions.cel.rules import compiled_rules, normalize_field_path

JSON = dict[str, Any]


def _rules(*rules: str | JSON) -> list[JSON]:
    return [{"rule": r} if isinstance(r, str) else r for r in rules]


def _schema(spec: JSON, *root_rules: str | JSON) -> JSON:
    schema: JSON = {"type": "object", "properties": {"spec": spec}}
    if root_rules:
        schema["x-kubernetes-validations"] = _rules(*root_rules)
    return schema


def _messages(obj: JSON, schema: JSON, old: JSON | None = None) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_object(obj, old, schema)]


def _obj(spec: Any) -> JSON:
    return {"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w", "labels": {"a": "b"}}, "spec": spec}


REPLICAS = _schema({"type": "object", "properties": {
    "replicas": {"type": "integer", "x-kubernetes-validations": _rules("self >= 0 && self <= 5")},
    "min": {"type": "integer"}, "max": {"type": "integer"},
}, "x-kubernetes-validations": _rules({"rule": "self.min <= self.max", "message": "min must not exceed max"})})


def test_rules_are_scoped_to_their_node() -> None:
    assert _messages(_obj({"replicas": 3, "min": 1, "max": 2}), REPLICAS) == []
    assert _messages(_obj({"replicas": 9, "min": 3, "max": 2}), REPLICAS) == [
        'spec: Invalid value: "object": min must not exceed max',
        'spec.replicas: Invalid value: "integer": failed rule: self >= 0 && self <= 5',
    ]


def test_absent_values_are_not_validated() -> None:
    assert _messages(_obj(None), REPLICAS) == []
    assert _messages({"metadata": {"name": "w"}}, REPLICAS) == []


def test_item_and_map_value_rules_run_per_element() -> None:
    schema = _schema({"type": "object", "properties": {
        "ports": {"type": "array", "items": {"type": "integer", "x-kubernetes-validations": _rules("self > 1024")}},
        "labels": {"type": "object", "additionalProperties": {
            "type": "string", "x-kubernetes-validations": _rules("self.startsWith('v')")}},
    }})
    out = _messages(_obj({"ports": [2000, 80, 443], "labels": {"good": "v1", "bad": "x"}}), schema)
    assert out == [
        'spec.ports[1]: Invalid value: "integer": failed rule: self > 1024',
        'spec.ports[2]: Invalid value: "integer": failed rule: self > 1024',
        "spec.labels[bad]: Invalid value: \"string\": failed rule: self.startsWith('v')",
    ]


def test_macros_and_string_functions() -> None:
    rules = [
        "has(self.name) && !has(self.missing)",
        "self.items.all(i, i.size() > 0)",
        "self.items.exists(i, i == 'b')",
        "self.items.exists_one(i, i == 'a')",
        "self.items.map(i, i + '!').filter(i, i.startsWith('a')) == ['a!']",
        "self.name.matches('^[a-z]+$') && self.name.endsWith('z') && self.name.contains('y')",
        "self.name.upperAscii().lowerAscii() == self.name && self.name.indexOf('z') == 2",
        "[1, 2, 3].isSorted() && ![2, 1].isSorted()",
        "duration('1h') > duration('30m') && timestamp('2024-01-01T00:00:00Z') < timestamp('2025-01-01T00:00:00Z')",
        "size(self.items) == 3",
    ]
    schema = _schema({"type": "object", "x-kubernetes-validations": _rules(*rules)})
    assert _messages(_obj({"name": "xyz", "items": ["a", "b", "c"]}), schema) == []
    failing = _messages(_obj({"name": "xy", "items": ["a", "a", "b"]}), schema)
    assert [m.split("failed rule: ")[1] for m in failing] == [rules[3], rules[4], rules[5], rules[6]]


def test_root_rules_see_type_meta_and_only_name_metadata() -> None:
    schema = _schema({"type": "object"}, "self.kind == 'W' && self.metadata.name == 'w'",
                     "!has(self.metadata.labels)")
    assert _messages(_obj({}), schema) == []
    other = _obj({})
    other["metadata"]["name"] = "v"
    assert _messages(other, schema) == [
        "<nil>: Invalid value: \"object\": failed rule: self.kind == 'W' && self.metadata.name == 'w'"]


def test_transition_rules_need_an_old_value() -> None:
    schema = _schema({"type": "object", "properties": {"id": {
        "type": "string", "x-kubernetes-validations": _rules({"rule": "self == oldSelf", "message": "is immutable"})}}})
    assert _messages(_obj({"id": "a"}), schema) == []  # create: oldSelf rules are skipped
    assert _messages(_obj({"id": "a"}), schema, old=_obj({"id": "a"})) == []
    assert _messages(_obj({"id": "b"}), schema, old=_obj({"id": "a"})) == [
        'spec.id: Invalid value: "string": is immutable']
    assert _messages(_obj({"id": "b"}), schema, old=_obj({})) == []  # no old value at that path


def test_map_lists_correlate_by_key_and_atomic_lists_do_not() -> None:
    item = {"type": "object", "properties": {"name": {"type": "string"}, "size": {
        "type": "integer", "x-kubernetes-validations": _rules("self >= oldSelf")}}}
    schema = _schema({"type": "object", "properties": {
        "keyed": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": item},
        "atomic": {"type": "array", "items": item}}})
    old = _obj({"keyed": [{"name": "a", "size": 5}, {"name": "b", "size": 1}],
                "atomic": [{"name": "a", "size": 5}]})
    new = _obj({"keyed": [{"name": "b", "size": 2}, {"name": "a", "size": 4}, {"name": "c", "size": 0}],
                "atomic": [{"name": "a", "size": 1}]})
    assert _messages(new, schema, old) == [
        'spec.keyed[1].size: Invalid value: "integer": failed rule: self >= oldSelf']


def test_optional_old_self_runs_on_create_too() -> None:
    schema = _schema({"type": "object", "properties": {"v": {"type": "integer", "x-kubernetes-validations": [
        {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": True,
         "message": "may only grow"},
        {"rule": "oldSelf.hasValue() || self < 10", "optionalOldSelf": True, "message": "starts below 10"}]}}})
    assert _messages(_obj({"v": 12}), schema) == ['spec.v: Invalid value: "integer": starts below 10']
    assert _messages(_obj({"v": 12}), schema, old=_obj({"v": 11})) == []
    assert _messages(_obj({"v": 3}), schema, old=_obj({"v": 11})) == ['spec.v: Invalid value: "integer": may only grow']


def test_message_expression_reason_and_field_path() -> None:
    schema = _schema({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                      "x-kubernetes-validations": [
        {"rule": "self.a < self.b", "messageExpression": "'a (' + string(self.a) + ') must be below b'",
         "fieldPath": ".a"},
        {"rule": "self.a != 7", "reason": "FieldValueForbidden", "message": "seven is forbidden"},
        {"rule": "self.b != 7", "reason": "FieldValueRequired", "message": "not seven"},
        {"rule": "self.a != self.b", "reason": "FieldValueDuplicate"},
        {"rule": "self.a > 0", "messageExpression": "self.nope", "message": "fallback"},
    ]})
    assert _messages(_obj({"a": 7, "b": 7}), schema) == [
        'spec.a: Invalid value: "object": a (7) must be below b',
        "spec: Forbidden: seven is forbidden",
        "spec: Required value: not seven",
        'spec: Duplicate value: "object"',
    ]
    assert _messages(_obj({"a": -1, "b": 3}), schema) == ['spec: Invalid value: "object": fallback']


def test_evaluation_errors_report_the_rule() -> None:
    schema = _schema({"type": "object", "x-kubernetes-validations": _rules(
        "self.missing == 1", "self.a + 'x' == 'x'", {"rule": "1 / self.a == 1", "message": "divides"})})
    out = _messages(_obj({"a": 0}), schema)
    assert out[0].startswith('spec: Invalid value: "object": ') and "missing" in out[0]
    assert out[0].endswith("evaluating rule: self.missing == 1")
    assert "call arguments did not match a supported operator, function or macro signature for rule: " \
           "self.a + 'x' == 'x'" in out[1]
    assert "divide by zero" in out[2] and out[2].endswith("evaluating rule: divides")


def test_runaway_rules_are_cut_off() -> None:
    schema = _schema({"type": "object", "x-kubernetes-validations": _rules(
        "self.l.all(x, self.l.all(y, self.l.all(z, x + y + z >= 0)))", "false")})
    out = _messages(_obj({"l": list(range(200))}), schema)
    assert len(out) == 1  # the budget error stops all further rules, as upstream
    assert "no further validation rules will be run due to call cost exceeds limit for rule" in out[0]


def test_rules_compile_once_per_schema_node() -> None:
    node = {"type": "string", "x-kubernetes-validations": _rules("self != ''")}
    assert compiled_rules(node) is compiled_rules(node)
    assert compiled_rules(dict(node)) is not compiled_rules(node)


def test_crd_rejects_rules_that_do_not_compile() -> None:
    schema = _schema({"type": "object", "x-kubernetes-validations": [
        {"rule": "self.a ==", "message": "m"}, {"rule": "self.a == 1", "messageExpression": "nope(self)"},
        {"rule": "self > 0", "reason": "Bogus"}]})
    causes = validate_schema_rules(schema, "spec.versions[0].schema.openAPIV3Schema")
    base = "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations"
    assert [c.field for c in causes] == [f"{base}[0].rule", f"{base}[1].messageExpression", f"{base}[2].reason"]
    assert causes[0].message.startswith('Invalid value: apiextensions.ValidationRule{Rule:"self.a ==", '
                                        'Message:"m", ')
    assert ": compilation failed: ERROR: <input>:1:10: Syntax error: " in causes[0].message
    assert "messageExpression compilation failed: ERROR: <input>:1:5: undeclared reference to 'nope'" \
           in causes[1].message
    assert causes[2].message.startswith('Unsupported value: "Bogus": supported values: ')


def test_crd_rejects_old_self_where_nothing_correlates() -> None:
    schema = _schema({"type": "object", "properties": {"l": {"type": "array", "items": {
        "type": "string", "x-kubernetes-validations": _rules("self == oldSelf")}}}})
    causes = validate_schema_rules(schema, "s")
    assert [c.field for c in causes] == ["s.properties[spec].properties[l].items.x-kubernetes-validations[0].rule"]
    assert "oldSelf cannot be used on the uncorrelatable portion of the schema within " \
           "s.properties[spec].properties[l]" in causes[0].message
    assert validate_schema_rules(REPLICAS, "s") == []


def test_field_paths_normalize_like_upstream() -> None:
    assert normalize_field_path(".a.b") == "a.b"
    assert normalize_field_path(".m['x.y'].z") == "m[x.y].z"
    assert normalize_field_path("a") == ""
