"""The seam between pod workers and the prober (``kubelet/prober/``).

A pod worker tells its ``PodProber`` about the pod (``add_pod`` once the sandbox has its IP,
``update_pod`` when it starts terminating, ``remove_pod`` at teardown) and its containers
(``update_container`` with the running container's id, or None once it exited), and asks whether
a running container is ready or started. ``ProbeManager`` is the real one; ``NoProbes`` answers
as upstream does for containers without probes (ready and started once running) and ignores the
rest. The prober restarts a container whose liveness or startup probe fails through
``ContainerKiller.kill_container`` (the pod worker stops it with ``kill_grace_period`` and then
applies the restart policy).
"""

from __future__ import annotations

from typing import Any, Protocol

JSON = dict[str, Any]


class ProbeResults(Protocol):
    def readiness(self, pod_uid: str, container_name: str) -> bool | None: ...

    def startup(self, pod_uid: str, container_name: str) -> bool | None: ...


class PodProber(ProbeResults, Protocol):
    def add_pod(self, pod: JSON, pod_ip: str) -> None: ...

    def update_pod(self, pod: JSON) -> None: ...

    def update_container(self, pod_uid: str, name: str, container_id: str | None,
                         running_for: float = 0.0) -> None: ...

    def remove_pod(self, pod_uid: str) -> None: ...

    def kill_grace_period(self, pod_uid: str, container_name: str) -> int: ...


class ContainerKiller(Protocol):
    def kill_container(self, pod_uid: str, container: str, message: str) -> None:
        """Stop the container so that it restarts per restartPolicy; ``message`` is the text of
        the ``Killing`` event."""


class NoProbes:
    def readiness(self, pod_uid: str, container_name: str) -> bool | None:
        return None

    def startup(self, pod_uid: str, container_name: str) -> bool | None:
        return None

    def add_pod(self, pod: JSON, pod_ip: str) -> None:
        pass

    def update_pod(self, pod: JSON) -> None:
        pass

    def update_container(self, pod_uid: str, name: str, container_id: str | None,
                         running_for: float = 0.0) -> None:
        pass

    def remove_pod(self, pod_uid: str) -> None:
        pass

    def kill_grace_period(self, pod_uid: str, container_name: str) -> int:
        return 30


def container_ready(has_probe: bool, result: bool | None) -> bool:
    """A running container is ready once its probe said so, or at once when it has no probe."""
    return bool(result) if has_probe else True
