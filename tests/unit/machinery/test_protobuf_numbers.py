"""The numbering table agrees with the schemas it annotates."""

from __future__ import annotations

import pytest

from kubeplane.machinery.protobuf.numbers import numbers_for, tabled_definitions
from kubeplane.machinery.schema import available_minors, schemas


def _properties(definition: str) -> set[str] | None:
    """Property names of ``definition`` across every shipped minor (alpha fields come and go)."""
    found: set[str] | None = None
    for minor in available_minors():
        node = schemas(minor).defs.get(definition)
        if node is not None:
            found = (found or set()) | set(node.get("properties", {}))
    return found


def _embedded_only() -> set[str]:
    """Definitions used only as Go embedded structs; the schemas inline their fields instead."""
    return {m.name for d in tabled_definitions() for m in (numbers_for(d) or {}).values() if m.embedded}


@pytest.mark.parametrize("definition", sorted(tabled_definitions()))
def test_every_tabled_name_is_a_schema_property(definition: str) -> None:
    properties = _properties(definition)
    if properties is None:
        assert definition in _embedded_only(), f"{definition} is not a schema definition"
        return
    for number, meaning in (numbers_for(definition) or {}).items():
        if meaning.embedded:
            inlined = {m.name for m in (numbers_for(meaning.name) or {}).values()}
            assert inlined, f"{definition} embeds untabled {meaning.name}"
            assert inlined <= properties, f"{definition} field {number} inlines {inlined - properties}"
        else:
            assert meaning.name in properties, f"{definition} field {number}: no property {meaning.name!r}"


def test_each_name_has_one_number() -> None:
    for definition in tabled_definitions():
        names = [m.name for m in (numbers_for(definition) or {}).values()]
        assert len(names) == len(set(names)), definition


@pytest.mark.parametrize(("api_version", "kind"), [
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
    ("v1", "Pod"), ("v1", "ResourceQuota"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
    ("batch/v1", "CronJob"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("scheduling.k8s.io/v1", "PriorityClass"),
    ("policy/v1", "PodDisruptionBudget"), ("policy/v1", "Eviction"), ("networking.k8s.io/v1", "Ingress"),
    ("authentication.k8s.io/v1", "TokenRequest"), ("authentication.k8s.io/v1", "SelfSubjectReview"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
])
def test_kubectl_typed_kinds_are_tabled(api_version: str, kind: str) -> None:
    group, _, version = api_version.rpartition("/")
    definition = schemas("1.35").definition_name_for(group, version, kind)
    assert definition is not None
    assert numbers_for(definition) is not None
