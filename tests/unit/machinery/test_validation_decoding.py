"""Repeated JSON keys found on the raw body, merged with unknown fields in document order."""

from __future__ import annotations

from kubeplane.machinery.validation import decoding_problems, find_duplicate_fields


def test_bodies_without_repeats_cost_one_pass_and_report_nothing() -> None:
    assert find_duplicate_fields(b'{"a": {"b": 1, "c": [{"d": 1}, {"d": 2}]}}') is None
    assert find_duplicate_fields(b"not json") is None


def test_repeats_are_found_with_their_paths_in_document_order() -> None:
    body = b'{"metadata": {"name": "x", "name": "y"}, "spec": {"list": [{"k": 1, "k": 2}], "z": 1, "z": 2}}'
    found = find_duplicate_fields(body)
    assert found is not None
    assert [path for _, path in found.duplicates] == ["metadata.name", "spec.list[0].k", "spec.z"]


def test_problems_merge_in_document_order_and_skip_repeats_inside_unknown_fields() -> None:
    body = b'{"metadata": {"name": "a", "name": "b", "odd": 1}, "spec": {"u": 1, "u": 2, "p": true, "p": false}}'
    problems = decoding_problems(["metadata.odd", "spec.u"], find_duplicate_fields(body))
    assert problems == ['duplicate field "metadata.name"', 'unknown field "metadata.odd"', 'unknown field "spec.u"',
                        'duplicate field "spec.p"']


def test_without_repeats_only_unknown_fields_are_reported() -> None:
    assert decoding_problems(["spec.x"], None) == ['unknown field "spec.x"']


def test_a_body_nested_deeper_than_python_recurses_is_not_reported_and_does_not_fail() -> None:
    body = ('{"k": ' * 2000 + '{"d": 1, "d": 2}' + "}" * 2000).encode()
    assert find_duplicate_fields(body) is None
