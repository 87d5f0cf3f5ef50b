"""What the autoscaler reads and writes through the API besides HPAs: the target's ``/scale``
subresource (any resource that has one, custom resources included, found through discovery) and
pod usage from the resource metrics API (``metrics.k8s.io/v1beta1`` PodMetrics), whoever serves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubeplane.client import ApiError, Client, Resource
from kubeplane.controllers.podautoscaler.replicas import MetricsError, PodSample, milli
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

POD_METRICS = Resource("metrics.k8s.io", "v1beta1", "pods", kind="PodMetrics")


class ScaleTargetError(Exception):
    pass


class ScaleTargets:
    """(apiVersion, kind) → the resource with a ``/scale`` subresource, from discovery; a miss is
    looked up afresh, so a CRD created after the controller started is still found."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._known: dict[tuple[str, str], Resource] = {}

    async def resource_for(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._known:
            self._known[key] = await self._discover(api_version, kind)
        return self._known[key]

    async def _discover(self, api_version: str, kind: str) -> Resource:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = await self.client.request("GET", path)
        except ApiError as err:
            raise ScaleTargetError(f"unable to determine resource for scale target reference: {err}") from err
        entries = listing.get("resources") or []
        names = {str(e.get("name")) for e in entries}
        for entry in entries:
            name = str(entry.get("name") or "")
            if "/" not in name and entry.get("kind") == kind and f"{name}/scale" in names:
                return Resource(group, version, name, namespaced=bool(entry.get("namespaced")), kind=kind)
        raise ScaleTargetError(f"unable to determine resource for scale target reference: "
                               f"no matches for kind \"{kind}\" in group \"{group}\" with a scale subresource")

    async def get_scale(self, namespace: str, ref: JSON) -> tuple[Resource, JSON]:
        resource = await self.resource_for(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        scale = await self.client.get(resource, str(ref.get("name") or ""), namespace, subresource="scale")
        return resource, scale

    async def set_replicas(self, resource: Resource, scale: JSON, replicas: int) -> JSON:
        body = {**scale, "spec": {**(scale.get("spec") or {}), "replicas": replicas}}
        return await self.client.update(resource, body, subresource="scale")


def _duration(text: str | None) -> timedelta:
    """A metav1.Duration such as "30s" or "1m0s" (the window of a sample)."""
    if not text:
        return timedelta(seconds=30)
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
    return timedelta(seconds=total)


def samples_from(pod_metrics: list[JSON], resource: str, container: str = "") -> dict[str, PodSample]:
    """Per pod, the summed usage of ``resource`` over its containers (only ``container`` if named);
    a pod missing the resource in any counted container has no sample, as upstream."""
    samples: dict[str, PodSample] = {}
    for item in pod_metrics:
        total, complete, counted = 0, True, False
        for c in item.get("containers") or ():
            if container and c.get("name") != container:
                continue
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                complete = False
                break
            total += milli(usage)
            counted = True
        if complete and counted:
            stamp = parse_time(item.get("timestamp")) or datetime.now(UTC)
            samples[item["metadata"]["name"]] = PodSample(total, stamp, _duration(item.get("window")))
    return samples


async def fetch_samples(client: Client, namespace: str, selector: str, resource: str,
                        container: str = "") -> dict[str, PodSample]:
    try:
        items, _ = await client.list_all(POD_METRICS, namespace, label_selector=selector or None)
    except ApiError as err:
        raise MetricsError(f"unable to get metrics for resource {resource}: unable to fetch metrics from "
                           f"resource metrics API: {err}") from err
    if not items:
        raise MetricsError(f"unable to get metrics for resource {resource}: no metrics returned from "
                           "resource metrics API")
    return samples_from(items, resource, container)
