"""Field selector grammar and the field labels each built-in resource supports."""

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.fields import (
    compile_field_selector,
    compile_predicate,
    field_getter,
    field_spec,
    parse_field_selector,
    selectable_projection,
)

POD = {
    "metadata": {"name": "web-1", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "198.18.0.5", "podIPs": [{"ip": "198.18.0.5"}, {"ip": "fd00::5"}]},
}


def test_parse_and_print() -> None:
    sel = parse_field_selector("status.phase!=Failed,metadata.name==a\\,b")
    assert str(sel) == "metadata.name=a\\,b,status.phase!=Failed"
    assert [(r.field, r.operator, r.value) for r in sel.requirements] == [
        ("metadata.name", "=", "a,b"), ("status.phase", "!=", "Failed")]
    assert parse_field_selector("").empty
    assert parse_field_selector("a=b,,").requirements[0].value == "b"


@pytest.mark.parametrize(("text", "message"), [
    ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(StatusError) as info:
        parse_field_selector(text)
    assert info.value.code == 400 and info.value.message == message


def test_pod_fields() -> None:
    fields = field_getter("", "pods")(POD)
    assert fields["spec.nodeName"] == "node-a"
    assert fields["spec.hostNetwork"] == "true"
    assert fields["status.podIP"] == "198.18.0.5"
    assert fields["metadata.namespace"] == "prod"
    assert fields["spec.schedulerName"] == ""


@pytest.mark.parametrize(("selector", "expected"), [
    ("spec.nodeName=node-a", True),
    ("spec.nodeName=node-b", False),
    ("spec.nodeName=", False),
    ("spec.host=node-a", True),  # the old alias still works
    ("status.phase!=Running", False),
    ("metadata.name=web-1,metadata.namespace=prod", True),
    ("spec.serviceAccountName=", True),  # absent fields read as ""
])
def test_pod_selection(selector: str, expected: bool) -> None:
    predicate = compile_field_selector("", "pods", selector)
    assert predicate is not None and predicate(POD) is expected


def test_unsupported_labels_use_each_resources_message() -> None:
    with pytest.raises(StatusError) as info:
        compile_field_selector("", "pods", "spec.foo=x")
    assert (info.value.code, info.value.message) == (400, "field label not supported: spec.foo")
    with pytest.raises(StatusError) as info:
        compile_field_selector("apps", "deployments", "spec.replicas=1")
    assert info.value.message == ('"spec.replicas" is not a known field selector: only "metadata.name", '
                                  '"metadata.namespace"')
    with pytest.raises(StatusError) as info:
        compile_field_selector("batch", "jobs", "spec.x=1")
    assert info.value.message == 'field label "spec.x" not supported for batchv1.Job'
    with pytest.raises(StatusError):
        compile_field_selector("", "nodes", "metadata.namespace=x")  # nodes are cluster-scoped


def test_other_builtin_tables() -> None:
    assert field_getter("", "nodes")({"metadata": {"name": "n"}, "spec": {"unschedulable": True}}) == {
        "metadata.name": "n", "spec.unschedulable": "true"}
    assert field_getter("batch", "jobs")({"metadata": {}, "status": {"succeeded": 3}})["status.successful"] == "3"
    assert field_getter("", "secrets")({"type": "Opaque"})["type"] == "Opaque"
    event = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "web-1"},
             "source": {"component": "kubelet"}, "reason": "Started"}
    match = compile_field_selector("", "events", "involvedObject.kind=Pod,source=kubelet,reason=Started")
    assert match is not None and match(event)
    new_event = {"metadata": {"name": "e"}, "regarding": {"kind": "Pod"}, "reportingController": "kubelet"}
    for selector in ("involvedObject.kind=Pod", "regarding.kind=Pod", "reportingComponent=kubelet"):
        match = compile_field_selector("events.k8s.io", "events", selector)
        assert match is not None and match(new_event)


def test_compile_predicate() -> None:
    assert compile_predicate("", "pods", "", "") is None
    both = compile_predicate("", "pods", "app=web", "status.phase=Running")
    assert both is not None and both(POD)
    assert not both({**POD, "metadata": {**POD["metadata"], "labels": {}}})
    only_labels = compile_predicate("", "pods", "app!=web", "")
    assert only_labels is not None and not only_labels(POD)


SELECTABLE = [("", "pods"), ("", "nodes"), ("", "events"), ("events.k8s.io", "events"), ("", "secrets"),
              ("", "services"), ("", "namespaces"), ("apps", "replicasets"), ("batch", "jobs"),
              ("certificates.k8s.io", "certificatesigningrequests"), ("apps", "deployments")]


def _object_with_every_source(group: str, resource: str) -> dict:
    """An object carrying a distinct value at every path a selectable field reads, plus bulk."""
    obj: dict = {"metadata": {"name": "n", "namespace": "ns", "labels": {"a": "b"}, "uid": "u",
                              "annotations": {"big": "x" * 100}},
                 "spec": {"containers": [{"name": "c"}]}, "data": {"k": "v"}}
    for i, (label, extractor) in enumerate(sorted(field_spec(group, resource).extractors.items())):
        for path in extractor.sources:
            if path.startswith("metadata."):
                continue  # name and namespace are set above
            *parents, last = path.split(".")
            target = obj
            for part in parents:
                target = target.setdefault(part, {})
            if label.endswith("IPs") or path.endswith("podIPs"):
                target[last] = [{"ip": f"198.18.0.{i}"}]
            elif label in ("spec.hostNetwork", "spec.unschedulable"):
                target[last] = True
            elif label in ("status.replicas", "status.successful"):
                target[last] = i
            else:
                target[last] = f"value-{i}"
    return obj


@pytest.mark.parametrize(("group", "resource"), SELECTABLE)
def test_the_cache_projection_answers_every_selector_as_the_object_does(group: str, resource: str) -> None:
    obj = _object_with_every_source(group, resource)
    slim = selectable_projection(group, resource)(obj)
    assert field_getter(group, resource)(slim) == field_getter(group, resource)(obj)
    assert slim["metadata"] == {"name": "n", "namespace": "ns", "labels": {"a": "b"}}
    assert "data" not in slim and "containers" not in slim.get("spec", {})
    for label, value in field_getter(group, resource)(obj).items():
        selector = compile_predicate(group, resource, "a=b", f"{label}={value}")
        assert selector is not None and selector(slim) and selector(obj)
