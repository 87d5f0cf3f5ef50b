"""The version catalog: served minors, /version bodies and each minor's resources."""

from __future__ import annotations

import pytest

from kubeplane.catalog import DEFAULT_VERSION, Catalog, release, version_info, versions


def test_served_minors_and_default() -> None:
    assert versions() == ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37")
    assert DEFAULT_VERSION == "1.35"


def test_unknown_minor_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"'1\.20'.*1\.29, 1\.30.*1\.37"):
        Catalog.for_version("1.20")


def test_for_version_is_cached() -> None:
    assert Catalog.for_version("1.35") is Catalog.for_version("1.35")


def test_support_dates_are_ordered() -> None:
    for minor in versions():
        rel = release(minor)
        assert rel.upstream_release < rel.end_of_standard_support < rel.end_of_extended_support


def test_version_info_has_upstream_fields() -> None:
    info = version_info("1.35")
    assert info["major"] == "1" and info["minor"] == "35"
    assert info["gitVersion"] == "v1.35.0-kubeplane"
    assert {"gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"} <= info.keys()
    assert info["emulationMinor"] == "35"
    # 1.29's version.Info had no emulation fields yet.
    assert "emulationMajor" not in version_info("1.29")


def test_pod_row_matches_upstream_discovery() -> None:
    pods = Catalog.for_version("1.35").lookup("", "v1", "pods")
    assert pods is not None
    assert (pods.kind, pods.list_kind, pods.singular, pods.namespaced) == ("Pod", "PodList", "pod", True)
    assert pods.short_names == ("po",) and pods.categories == ("all",)
    assert pods.verbs == ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    assert pods.storage_version_hash == "xPOwRZ+Yhw8="
    assert pods.definition == "io.k8s.api.core.v1.Pod"
    eviction = pods.subresources["eviction"]
    assert (eviction.group, eviction.version, eviction.kind, eviction.verbs) == ("policy", "v1", "Eviction", ("create",))


@pytest.mark.parametrize(
    ("group", "version", "resource", "expected"),
    [
        ("", "v1", "configmaps", "qFsyl6wFWjQ="),
        ("", "v1", "namespaces", "Q3oi5N2YM8M="),
        ("", "v1", "services", "0/CO1lhkEBI="),
        ("events.k8s.io", "v1", "events", "r2yiGXH7wu8="),  # stored as core/v1 Event
        ("autoscaling", "v2", "horizontalpodautoscalers", "oQlkt7f5j/A="),  # stored as autoscaling/v1
        ("authentication.k8s.io", "v1", "tokenreviews", None),  # never stored
    ],
)
def test_storage_version_hashes(group: str, version: str, resource: str, expected: str | None) -> None:
    found = Catalog.for_version("1.35").lookup(group, version, resource)
    assert found is not None
    assert found.storage_version_hash == expected


def test_lookup_kind_and_unknowns() -> None:
    catalog = Catalog.for_version("1.35")
    deployments = catalog.lookup_kind("apps", "v1", "Deployment")
    assert deployments is not None and deployments.resource == "deployments"
    assert catalog.lookup("apps", "v1", "nonsense") is None
    assert catalog.lookup("apps", "v1beta1", "deployments") is None  # long removed, never served


def test_resources_follow_the_minor_schemas() -> None:
    assert Catalog.for_version("1.29").lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies") is None
    assert Catalog.for_version("1.30").lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")


def test_pod_resize_subresource_arrives_in_1_33() -> None:
    old = Catalog.for_version("1.32").lookup("", "v1", "pods")
    new = Catalog.for_version("1.33").lookup("", "v1", "pods")
    assert old is not None and new is not None
    assert "resize" not in old.subresources
    assert new.subresources["resize"].verbs == ("get", "patch", "update")


def test_groups_in_upstream_order_with_preferred_versions() -> None:
    catalog = Catalog.for_version("1.35")
    names = [g.name for g in catalog.groups()]
    assert names[:3] == ["apps", "events.k8s.io", "authentication.k8s.io"]
    assert names.index("batch") < names.index("rbac.authorization.k8s.io") < names.index("coordination.k8s.io")
    assert "" not in names
    assert catalog.preferred_version("autoscaling") == "v2"
    autoscaling = catalog.group("autoscaling")
    assert autoscaling is not None and autoscaling.versions == ("v2", "v1")
    assert catalog.preferred_version("nonexistent.example.com") is None
