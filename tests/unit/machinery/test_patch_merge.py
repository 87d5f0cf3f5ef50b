"""RFC 7386 JSON merge patch."""

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.patch import merge_patch


def test_rfc7386_examples() -> None:
    doc = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"],
           "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    assert merge_patch.apply(doc, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"], "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890"}
    assert doc["author"] == {"givenName": "John", "familyName": "Doe"}


def test_nested_new_objects_drop_nulls_and_lists_replace() -> None:
    assert merge_patch.apply({"a": [1, 2]}, {"a": [3], "b": {"c": None, "d": 1}}) == {"a": [3], "b": {"d": 1}}
    assert merge_patch.apply({"a": {"b": 1}}, {"a": "x"}) == {"a": "x"}


def test_non_object_patch_is_400() -> None:
    with pytest.raises(StatusError) as info:
        merge_patch.apply({}, [1])
    assert info.value.code == 400
