"""Audit logging (audit.k8s.io/v1): a policy decides each request's level, events go to a JSON-lines log."""

from __future__ import annotations

from kubeplane.apiserver.audit.auditor import DISABLED, Auditor, audit_of, complete, on_response_prepare
from kubeplane.apiserver.audit.backend import LogBackend, RotatingFile
from kubeplane.apiserver.audit.event import AUDIT_ID_HEADER, RequestAudit
from kubeplane.apiserver.audit.options import AuditOptions
from kubeplane.apiserver.audit.policy import Level, Policy, PolicyError, PolicyRule, Stage

__all__ = [
    "AUDIT_ID_HEADER",
    "DISABLED",
    "AuditOptions",
    "Auditor",
    "Level",
    "LogBackend",
    "Policy",
    "PolicyError",
    "PolicyRule",
    "RequestAudit",
    "RotatingFile",
    "Stage",
    "audit_of",
    "complete",
    "on_response_prepare",
]
