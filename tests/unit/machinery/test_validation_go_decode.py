"""Wrongly typed values in a create/update body of a built-in kind get upstream's 400 decoding error,
worded as Go's encoding/json (and the self-decoding types) word it; patched objects keep the 422."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.machinery import errors, validation


def deployment(**spec: Any) -> dict[str, Any]:
    template_spec = spec.pop("pod_spec", {"containers": [{"name": "c", "image": "i"}]})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": spec.pop("metadata", {"name": "d"}),
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": template_spec}, **spec}}


PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '


@pytest.mark.parametrize(("obj", "detail"), [
    (deployment(replicas="three"),
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (deployment(pod_spec={"containers": [{"name": "c", "image": "i", "env": [{"name": "E", "value": 7}]}]}),
     "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string"),
    (deployment(pod_spec={"containers": {"name": "c"}}),
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
    (deployment(pod_spec={"containers": [{"name": "c", "image": "i", "args": ["ok", 5]}]}),
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string"),
    (deployment(pod_spec={"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80.5}]}]}),
     "json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort"
     " of type int32"),
    (deployment(metadata={"name": "d", "labels": {"app": True}}),
     "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"),
    (deployment(paused="yes"),
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    (deployment(pod_spec={"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "lots"}}}]}),
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (deployment(metadata={"name": "d", "creationTimestamp": 5}),
     "json: cannot unmarshal number into Go value of type string"),
    (deployment(strategy={"rollingUpdate": {"maxSurge": True}}),
     "json: cannot unmarshal bool into Go value of type int32"),
])
def test_body_type_errors_are_upstreams_400(obj: dict[str, Any], detail: str) -> None:
    with pytest.raises(errors.StatusError) as refused:
        validation.validate_create("apps", "v1", "Deployment", obj, typed_body=True)
    assert (refused.value.code, refused.value.reason) == (400, "BadRequest")
    assert refused.value.message == PREFIX + detail


def test_the_first_error_in_document_order_is_named() -> None:
    obj = deployment(replicas="three", paused="yes")
    with pytest.raises(errors.StatusError) as refused:
        validation.validate_create("apps", "v1", "Deployment", obj, typed_body=True)
    assert refused.value.message.endswith("DeploymentSpec.spec.replicas of type int32")


def test_without_a_typed_body_type_errors_stay_causes() -> None:
    causes = validation.validate_create("apps", "v1", "Deployment", deployment(replicas="three"))
    assert [(c.type, c.field) for c in causes] == [("FieldValueTypeInvalid", "spec.replicas")]
    old = deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = deployment(replicas="three")
    new["metadata"]["resourceVersion"] = "1"
    assert [c.field for c in validation.validate_update("apps", "v1", "Deployment", new, old)] == ["spec.replicas"]
