"""The kubelet's prober: liveness, readiness and startup probes, and container lifecycle hooks.

``ProbeRunner`` runs one probe (exec through CRI ExecSync; httpGet, tcpSocket and grpc from the
node's network namespace via ``Dialer``). ``ProbeManager`` keeps a worker per probe of every pod
and publishes ``readiness``/``started`` verdicts and liveness failures. ``LifecycleHooks`` runs
postStart and preStop handlers.
"""

from kubeplane.kubelet.prober.dialer import Dialer, DialError
from kubeplane.kubelet.prober.handlers import ExecRunner, ProbeRunner
from kubeplane.kubelet.prober.lifecycle import (
    FAILED_POST_START_HOOK,
    FAILED_PRE_STOP_HOOK,
    POST_START_HOOK_ERROR,
    HookOutcome,
    LifecycleHooks,
)
from kubeplane.kubelet.prober.manager import EventSink, LivenessFailureHandler, ProbeManager
from kubeplane.kubelet.prober.results import ProbeKind, ProbeOutcome, Result

__all__ = ["FAILED_POST_START_HOOK", "FAILED_PRE_STOP_HOOK", "POST_START_HOOK_ERROR", "DialError", "Dialer",
           "EventSink", "ExecRunner", "HookOutcome", "LifecycleHooks", "LivenessFailureHandler", "ProbeKind",
           "ProbeManager", "ProbeOutcome", "ProbeRunner", "Result"]
