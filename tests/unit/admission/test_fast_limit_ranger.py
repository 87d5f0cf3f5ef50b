"""LimitRanger's validation reads the namespace's LimitRanges once per pod (not once per item
type) and still judges every Container and Pod item of every LimitRange, in list order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeplane.apiserver.admission.attributes import CREATE, Attributes, User
from kubeplane.apiserver.admission.limit_ranger import LimitRanger
from kubeplane.catalog.resources import ResourceInfo
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]
PODS = ResourceInfo(group="", version="v1", resource="pods", kind="Pod", list_kind="PodList", singular="pod",
                    namespaced=True, verbs=("create",))


class CountingObjects:
    """ClusterObjects' ``list`` over fixed LimitRanges, counting reads."""

    def __init__(self, ranges: list[JSON]) -> None:
        self.ranges = ranges
        self.lists = 0

    async def list(self, group: str, resource: str, namespace: str = "") -> list[JSON]:
        assert (group, resource, namespace) == ("", "limitranges", "team")
        self.lists += 1
        return self.ranges


def _limit_range(name: str, *items: JSON) -> JSON:
    return {"metadata": {"name": name, "namespace": "team"}, "spec": {"limits": list(items)}}


def _pod(cpu_request: str, cpu_limit: str) -> JSON:
    resources = {"requests": {"cpu": cpu_request}, "limits": {"cpu": cpu_limit}}
    return {"metadata": {"name": "p", "namespace": "team"},
            "spec": {"containers": [{"name": "a", "resources": resources},
                                    {"name": "b", "resources": resources}]}}


def _validate(objects: CountingObjects, pod: JSON) -> None:
    attrs = Attributes(operation=CREATE, resource=PODS, namespace="team", name="p", object=pod, old_object=None,
                       user=User("someone"))
    asyncio.run(LimitRanger(objects, {}).validate(attrs))  # type: ignore[arg-type]


RANGES = [
    _limit_range("containers", {"type": "Container", "max": {"cpu": "1"}}),
    _limit_range("pods", {"type": "Pod", "max": {"cpu": "1500m"}},
                 {"type": "Container", "min": {"cpu": "100m"}}),
]


def test_one_read_judges_every_item_type() -> None:
    objects = CountingObjects(RANGES)
    _validate(objects, _pod("200m", "500m"))
    assert objects.lists == 1


@pytest.mark.parametrize(("request_", "limit", "message"), [
    # Container items first (both LimitRanges, each container), then Pod items.
    ("200m", "2", "[maximum cpu usage per Container is 1, but limit is 2, maximum cpu usage per Container is 1, "
                  "but limit is 2, maximum cpu usage per Pod is 1500m, but limit is 4]"),
    ("50m", "500m", "[minimum cpu usage per Container is 100m, but request is 50m, minimum cpu usage per Container "
                    "is 100m, but request is 50m]"),
    ("200m", "800m", "maximum cpu usage per Pod is 1500m, but limit is 1600m"),
])
def test_messages_keep_upstream_order(request_: str, limit: str, message: str) -> None:
    objects = CountingObjects(RANGES)
    with pytest.raises(StatusError) as caught:
        _validate(objects, _pod(request_, limit))
    assert caught.value.message == f'pods "p" is forbidden: {message}'
    assert objects.lists == 1
