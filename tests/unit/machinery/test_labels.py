"""Label selector grammar, matching and metav1.LabelSelector conversion (upstream's behaviour)."""

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.labels import (
    EVERYTHING,
    NOTHING,
    from_label_selector,
    is_qualified_name,
    is_valid_label_value,
    parse_selector,
    selector_from_set,
)


@pytest.mark.parametrize(("text", "printed"), [
    ("", ""),
    ("x=a", "x=a"),
    ("x==a", "x==a"),
    ("x!=a", "x!=a"),
    ("x", "x"),
    ("!x", "!x"),
    ("  x  in ( b , a ) , y ", "x in (a,b),y"),
    ("z notin (c),a=b", "a=b,z notin (c)"),
    ("x=", "x="),
    ("x in ()", "x in ()"),
    ("x in (a,,b)", "x in (,a,b)"),
    ("in in (in,notin)", "in in (in,notin)"),
    ("x>1,y<2", "x>1,y<2"),
    ("example.com/app=web", "example.com/app=web"),
])
def test_parse_prints_canonical_form(text: str, printed: str) -> None:
    assert str(parse_selector(text)) == printed


@pytest.mark.parametrize(("text", "message"), [
    ("x=a=b", "found '=', expected: ',' or 'end of string'"),
    ("x,", "found '', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("x in a", "unable to parse requirement: found 'a' expected: '('"),
    ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
    ("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": "
            "for 'Gt', 'Lt' operators, the value must be an integer"),
])
def test_parse_errors_have_upstream_text(text: str, message: str) -> None:
    with pytest.raises(StatusError) as info:
        parse_selector(text)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message == message


def test_invalid_key_reports_nil_path_like_upstream() -> None:
    with pytest.raises(StatusError) as info:
        parse_selector("app:monolith")
    assert info.value.message == (
        "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of "
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def test_invalid_value_names_the_key() -> None:
    with pytest.raises(StatusError) as info:
        parse_selector("app=demo-{nginx}")
    assert info.value.message.startswith(
        "unable to parse requirement: values[0][app]: Invalid value: \"demo-{nginx}\": a valid label must be "
        "an empty string")


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("a=b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", None, False),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a in (x,y)", {"a": "y"}, True),
    ("a notin (x,y)", {}, True),
    ("a notin (x,y)", {"a": "x"}, False),
    ("a", {"a": ""}, True),
    ("!a", {"a": ""}, False),
    ("a>5", {"a": "6"}, True),
    ("a>5", {"a": "x"}, False),
    ("a<5", {}, False),
    ("a=b,c", {"a": "b"}, False),
    ("", {}, True),
])
def test_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


def test_nil_selector_matches_nothing_and_empty_matches_everything() -> None:
    assert from_label_selector(None) is NOTHING
    assert not NOTHING.matches({"a": "b"}) and not NOTHING.empty
    assert from_label_selector({}) == EVERYTHING and EVERYTHING.empty
    assert from_label_selector({"matchLabels": {}, "matchExpressions": []}).matches({"x": "y"})


def test_label_selector_object() -> None:
    sel = from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                             {"key": "legacy", "operator": "DoesNotExist"}],
    })
    assert str(sel) == "app=web,!legacy,tier in (a,b)"
    assert sel.matches({"app": "web", "tier": "a"})
    assert not sel.matches({"app": "web", "tier": "a", "legacy": "1"})


@pytest.mark.parametrize(("sel", "message"), [
    ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
     '"Gt" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"),
])
def test_label_selector_object_errors(sel: dict, message: str) -> None:
    with pytest.raises(StatusError) as info:
        from_label_selector(sel)
    assert info.value.code == 400 and info.value.message == message


def test_selector_from_set() -> None:
    sel = selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2" and sel.matches({"a": "1", "b": "2", "c": "3"})
    assert selector_from_set(None).empty


def test_validation_helpers() -> None:
    assert is_qualified_name("example.com/my-app") == []
    assert is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert is_qualified_name("Example.com/x")[0].startswith("prefix part a lowercase RFC 1123 subdomain")
    assert is_valid_label_value("") == []
    assert is_valid_label_value("-x")[0].startswith("a valid label must be an empty string")
    assert is_valid_label_value("a" * 64) == ["must be no more than 63 characters"]
