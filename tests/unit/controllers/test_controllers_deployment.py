"""The Deployment controller's sync against an in-memory API, with the ReplicaSet controller
played by the test (it sets each ReplicaSet's status), plus the rollout arithmetic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubeplane.client.resource import DEPLOYMENTS, PODS, REPLICASETS
from kubeplane.controllers.conditions import get_condition
from kubeplane.controllers.deployment import DeploymentController
from kubeplane.controllers.deployment.hashing import compute_hash
from kubeplane.controllers.deployment.replicas import fenceposts, scaled_value
from kubeplane.controllers.deployment.revisions import MAX_REPLICAS, REVISION, REVISION_HISTORY
from kubeplane.controllers.deployment.scaling import proportional_sizes
from kubeplane.controllers.deployment.status import with_rollout_conditions
from kubeplane.controllers.timeutil import format_time

JSON = dict[str, Any]


def deployment(replicas: int = 4, image: str = "v1", surge: Any = 1, unavailable: Any = 0,
               strategy: str = "RollingUpdate", history: int = 10, paused: bool = False) -> JSON:
    spec: JSON = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": image}]}},
                  "strategy": {"type": strategy}, "revisionHistoryLimit": history, "progressDeadlineSeconds": 600,
                  "paused": paused}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
            "spec": spec}


@pytest.fixture
def controller(ctx: Any) -> DeploymentController:
    return DeploymentController(ctx)


class Cluster:
    """Drives the Deployment controller with the rest of the cluster simulated."""

    def __init__(self, api: Any, ctx: Any, controller: DeploymentController) -> None:
        self.api, self.ctx, self.controller = api, ctx, controller

    async def sync(self) -> None:
        self.api.feed(self.ctx.informers, DEPLOYMENTS, REPLICASETS, PODS)
        await self.controller.sync("ns/web")
        self.api.feed(self.ctx.informers, DEPLOYMENTS, REPLICASETS, PODS)

    def replica_sets_catch_up(self) -> None:
        """Every ReplicaSet's pods exist and are available (the ReplicaSet controller and kubelets)."""
        for rs in self.api.all(REPLICASETS):
            n = rs["spec"]["replicas"]
            stored = self.api.objects[(REPLICASETS, "ns", rs["metadata"]["name"])]
            stored["status"] = {"replicas": n, "readyReplicas": n, "availableReplicas": n,
                                "observedGeneration": rs["metadata"]["generation"]}

    def sizes(self) -> dict[str, int]:
        return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["spec"]["replicas"]
                for rs in self.api.all(REPLICASETS)}

    def deployment(self) -> JSON:
        return self.api.all(DEPLOYMENTS)[0]

    def set_image(self, image: str) -> None:
        stored = self.api.objects[(DEPLOYMENTS, "ns", "web")]
        stored["spec"]["template"]["spec"]["containers"][0]["image"] = image
        stored["metadata"]["generation"] += 1


@pytest.fixture
def cluster(api: Any, ctx: Any, controller: DeploymentController) -> Cluster:
    return Cluster(api, ctx, controller)


def test_fenceposts_round_surge_up_and_unavailable_down() -> None:
    assert scaled_value("25%", 10, round_up=True) == 3
    assert scaled_value("25%", 10, round_up=False) == 2
    assert fenceposts(deployment(replicas=10, surge="25%", unavailable="25%")) == (3, 2)
    assert fenceposts(deployment(replicas=3, surge=0, unavailable="10%")) == (0, 1)  # never both zero
    assert fenceposts(deployment(strategy="Recreate")) == (0, 0)


def test_template_hash_is_stable_and_depends_on_template_and_collisions() -> None:
    template = deployment()["spec"]["template"]
    assert compute_hash(template) == compute_hash({**template})
    assert compute_hash(template) != compute_hash(deployment(image="v2")["spec"]["template"])
    assert compute_hash(template, 1) != compute_hash(template)
    assert set(compute_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")


async def test_first_sync_creates_revision_one_replica_set(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=4))
    await cluster.sync()
    [rs] = api.all(REPLICASETS)
    template_hash = compute_hash(deployment()["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["spec"]["replicas"] == 4
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["annotations"][MAX_REPLICAS] == "5"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    d = cluster.deployment()
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert get_condition(d["status"]["conditions"], "Progressing")["reason"] == "NewReplicaSetCreated"
    cluster.replica_sets_catch_up()
    await cluster.sync()
    status = cluster.deployment()["status"]
    assert status["availableReplicas"] == status["updatedReplicas"] == 4
    assert get_condition(status["conditions"], "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert get_condition(status["conditions"], "Available")["status"] == "True"


async def test_rolling_update_stays_within_surge_and_unavailability(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=4, surge=1, unavailable=0))
    await cluster.sync()
    cluster.replica_sets_catch_up()
    await cluster.sync()
    cluster.set_image("v2")
    seen = []
    for _ in range(20):
        await cluster.sync()
        sizes = cluster.sizes()
        seen.append(sizes)
        assert sum(sizes.values()) <= 5  # replicas + maxSurge
        cluster.replica_sets_catch_up()
        if sizes == {"v1": 0, "v2": 4}:
            break
    assert seen[0] == {"v1": 4, "v2": 1}
    assert seen[-1] == {"v1": 0, "v2": 4}
    revisions = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["annotations"][REVISION]
                 for rs in api.all(REPLICASETS)}
    assert revisions == {"v1": "1", "v2": "2"}


async def test_rolling_back_renumbers_the_old_replica_set(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=2, surge=2, unavailable=2))
    for image in ("v1", "v2", "v1"):  # kubectl rollout undo puts the old template back
        cluster.set_image(image)
        for _ in range(5):
            await cluster.sync()
            cluster.replica_sets_catch_up()
    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in api.all(REPLICASETS)}
    assert by_image["v1"]["metadata"]["annotations"][REVISION] == "3"
    assert by_image["v1"]["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert by_image["v1"]["spec"]["replicas"] == 2 and by_image["v2"]["spec"]["replicas"] == 0
    assert cluster.deployment()["metadata"]["annotations"][REVISION] == "3"


async def test_recreate_scales_old_to_zero_and_waits_for_its_pods(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=3, strategy="Recreate"))
    await cluster.sync()
    cluster.replica_sets_catch_up()
    cluster.set_image("v2")
    await cluster.sync()
    assert cluster.sizes() == {"v1": 0}  # the new one waits until the old pods are gone
    await cluster.sync()
    assert cluster.sizes() == {"v1": 0}  # status still reports old replicas
    cluster.replica_sets_catch_up()
    await cluster.sync()
    assert cluster.sizes() == {"v1": 0, "v2": 3}


async def test_paused_deployment_does_not_roll_out(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=2))
    await cluster.sync()
    cluster.replica_sets_catch_up()
    api.objects[(DEPLOYMENTS, "ns", "web")]["spec"]["paused"] = True
    cluster.set_image("v2")
    await cluster.sync()
    assert cluster.sizes() == {"v1": 2}
    progressing = get_condition(cluster.deployment()["status"]["conditions"], "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


async def test_revision_history_limit_deletes_the_oldest_idle_replica_sets(api: Any, cluster: Cluster) -> None:
    api.put(DEPLOYMENTS, deployment(replicas=1, surge=1, unavailable=1, history=1))
    for image in ("v1", "v2", "v3", "v4"):
        cluster.set_image(image)
        for _ in range(5):
            await cluster.sync()
            cluster.replica_sets_catch_up()
    assert cluster.sizes() == {"v3": 0, "v4": 1}


def test_proportional_scaling_splits_a_resize_across_active_replica_sets() -> None:
    d = deployment(replicas=15, surge=3)

    def rs(name: str, created: str, size: int) -> JSON:
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": {MAX_REPLICAS: "13"}},
                "spec": {"replicas": size}}

    sizes = proportional_sizes(d, [rs("old", "2026-01-01T00:00:00Z", 8), rs("new", "2026-01-01T01:00:00Z", 5)])
    assert {r["metadata"]["name"]: n for r, n in sizes} == {"old": 11, "new": 7}


def test_progress_deadline_exceeded_when_nothing_moves(clock: Any) -> None:
    start = clock.wall()
    d = deployment(replicas=2)
    d["metadata"]["generation"] = 1
    d["spec"]["progressDeadlineSeconds"] = 10
    stuck = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
             "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                             "lastUpdateTime": format_time(start), "lastTransitionTime": format_time(start)}]}
    d["status"] = stuck
    new_rs = {"metadata": {"name": "web-abc"}}
    assert with_rollout_conditions(d, stuck, new_rs, start + timedelta(seconds=5)) == stuck
    late = with_rollout_conditions(d, stuck, new_rs, start + timedelta(seconds=11))
    condition = get_condition(late["conditions"], "Progressing")
    assert (condition["status"], condition["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert condition["message"] == 'ReplicaSet "web-abc" has timed out progressing.'
