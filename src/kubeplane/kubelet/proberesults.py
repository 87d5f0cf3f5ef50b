"""The seam between pod workers and the prober (``kubelet/prober/``, written separately).

Workers ask ``ProbeResults`` whether a running container is ready or started; ``None`` means no
result yet. Without a prober, ``NoProbes`` answers as upstream does for containers without
probes: ready and started once running. The prober restarts a container whose liveness probe
fails through ``ContainerKiller.kill_container`` (the pod worker then applies the restart policy).
"""

from __future__ import annotations

from typing import Protocol


class ProbeResults(Protocol):
    def readiness(self, pod_uid: str, container: str) -> bool | None: ...

    def startup(self, pod_uid: str, container: str) -> bool | None: ...


class ContainerKiller(Protocol):
    def kill_container(self, pod_uid: str, container: str, message: str) -> None:
        """Stop the container (with the pod's grace period) so that it restarts per restartPolicy."""


class NoProbes:
    def readiness(self, pod_uid: str, container: str) -> bool | None:
        return None

    def startup(self, pod_uid: str, container: str) -> bool | None:
        return None


def container_ready(has_probe: bool, result: bool | None) -> bool:
    """A running container is ready once its probe said so, or at once when it has no probe."""
    return bool(result) if has_probe else True
