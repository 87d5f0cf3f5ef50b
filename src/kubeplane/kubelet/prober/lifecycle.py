"""Container lifecycle hooks: postStart and preStop with exec, httpGet and sleep actions.

As upstream: an exec hook runs through the runtime without its own timeout; an httpGet hook fails
only when no response arrives (any status code is fine), follows redirects and checks TLS like a
plain Go HTTP client, with ``User-Agent: kube-lifecycle/<major.minor>``; a sleep hook just waits.

postStart runs right after StartContainer. If it fails, this records the ``FailedPostStartHook``
event with upstream's message and the pod worker must kill the container (reason
``FailedPostStartHook``) and report it waiting with reason ``PostStartHookError``.

preStop runs before StopContainer and counts inside the grace period: it gets at most the whole
period, and what it used is taken off what StopContainer gets (never less than 2 s). A failure
is recorded as ``FailedPreStopHook`` with upstream's fixed text (hook output may hold secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from kubeplane.catalog.releases import DEFAULT_VERSION
from kubeplane.client.clock import Clock, RealClock
from kubeplane.kubelet.cri import CRIError
from kubeplane.kubelet.prober.dialer import Dialer
from kubeplane.kubelet.prober.handlers import ExecRunner, bare_container_id
from kubeplane.kubelet.prober.httpget import HttpError, build_request, http_get
from kubeplane.kubelet.prober.manager import EventSink
from kubeplane.kubelet.prober.spec import (
    JSON,
    MINIMUM_GRACE_PERIOD_SECONDS,
    PortError,
    container_reference,
    format_pod,
    go_quote,
    go_slice,
    truncate_output,
)

# Event reasons and the waiting reason, as upstream names them.
FAILED_POST_START_HOOK = "FailedPostStartHook"
POST_START_HOOK_ERROR = "PostStartHookError"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
PRE_STOP_HOOK_FAILED_MESSAGE = "PreStopHook failed"


@dataclass(frozen=True)
class HookOutcome:
    """``error`` is None when the hook succeeded; ``message`` is upstream's text for a failure."""

    error: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class LifecycleHooks:
    def __init__(self, runtime: ExecRunner, dialer: Dialer, *, recorder: EventSink | None = None,
                 clock: Clock | None = None, kube_version: str = DEFAULT_VERSION) -> None:
        self.runtime = runtime
        self.dialer = dialer
        self.recorder = recorder
        self.clock: Clock = clock or RealClock()
        self.kube_version = kube_version

    async def run(self, handler: JSON, pod: JSON, container: JSON, container_id: str, pod_ip: str) -> HookOutcome:
        """Run one handler to completion (no time limit of its own)."""
        name, pod_text = container.get("name", ""), format_pod(pod)
        if (action := handler.get("exec")) is not None:
            command = list(action.get("command") or [])
            error, output = await self._exec(container_id, command)
            if error is None:
                return HookOutcome()
            return HookOutcome(error, f"Exec lifecycle hook ({go_slice(command)}) for Container {go_quote(name)} "
                                      f"in Pod {go_quote(pod_text)} failed - error: {error}, message: {go_quote(output)}")
        if (action := handler.get("httpGet")) is not None:
            error = await self._http(action, container, pod_ip)
            if error is None:
                return HookOutcome()
            return HookOutcome(error, f"HTTP lifecycle hook ({action.get('path', '')}) for Container {go_quote(name)} "
                                      f"in Pod {go_quote(pod_text)} failed - error: {error}")
        if (action := handler.get("sleep")) is not None:
            await self.clock.sleep(float(action.get("seconds") or 0))
            return HookOutcome()
        error = f"invalid handler: {handler}"
        return HookOutcome(error, f"Cannot run handler: {error}")

    async def _exec(self, container_id: str, command: list[str]) -> tuple[str | None, str]:
        try:
            response = await self.runtime.exec_sync(bare_container_id(container_id), command, timeout=0)
        except CRIError as error:
            return str(error), ""
        output = truncate_output(response.stdout + response.stderr)
        if response.exit_code == 0:
            return None, output
        stderr = truncate_output(response.stderr)
        return f"command '{' '.join(command)}' exited with {response.exit_code}: {stderr}", output

    async def _http(self, action: JSON, container: JSON, pod_ip: str) -> str | None:
        if not action.get("host") and not pod_ip:
            return "failed to find networking container: the pod has no IP"
        try:
            request = build_request(action, container, pod_ip, "lifecycle", self.kube_version)
            await http_get(request, self.dialer, timeout=None, verify_tls=True, same_host_redirects_only=False)
        except (HttpError, PortError) as error:
            return str(error)
        return None

    def _record(self, pod: JSON, container: JSON, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(container_reference(pod, container.get("name", "")), "Warning", reason, message)

    async def run_post_start(self, handler: JSON, pod: JSON, container: JSON, container_id: str,
                             pod_ip: str) -> HookOutcome:
        outcome = await self.run(handler, pod, container, container_id, pod_ip)
        if not outcome.ok:
            self._record(pod, container, FAILED_POST_START_HOOK, outcome.message)
        return outcome

    async def run_pre_stop(self, handler: JSON, pod: JSON, container: JSON, container_id: str, pod_ip: str,
                           grace_period: int) -> int:
        """Run preStop for at most ``grace_period`` seconds; returns the seconds left for
        StopContainer (the rest of the grace period, at least 2)."""
        if grace_period <= 0:
            return max(grace_period, MINIMUM_GRACE_PERIOD_SECONDS)
        started = self.clock.now()
        hook = asyncio.ensure_future(self.run(handler, pod, container, container_id, pod_ip))
        deadline = asyncio.ensure_future(self.clock.sleep(grace_period))
        try:
            await asyncio.wait({hook, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
            if not hook.done():
                hook.cancel()  # out of time: the container is stopped regardless
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(hook, deadline, return_exceptions=True)
        if hook.done() and not hook.cancelled() and hook.exception() is None and not hook.result().ok:
            self._record(pod, container, FAILED_PRE_STOP_HOOK, PRE_STOP_HOOK_FAILED_MESSAGE)
        elapsed = int(self.clock.now() - started)
        return max(grace_period - elapsed, MINIMUM_GRACE_PERIOD_SECONDS)
