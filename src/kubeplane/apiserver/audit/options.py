"""Audit flags, named as kube-apiserver's, and building the auditor from them."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from kubeplane.apiserver.audit.auditor import Auditor
from kubeplane.apiserver.audit.backend import LogBackend
from kubeplane.apiserver.audit.policy import Policy, PolicyError

log = logging.getLogger(__name__)


@dataclass
class AuditOptions:
    policy_file: str = ""
    log_path: str = ""
    log_maxsize: int = 0
    log_maxbackup: int = 0
    log_maxage: int = 0

    @staticmethod
    def add_flags(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("audit")
        group.add_argument("--audit-policy-file", default="",
                           help="audit.k8s.io/v1 Policy: which requests are logged and at what level")
        group.add_argument("--audit-log-path", default="",
                           help="write audit events as JSON lines to this file ('-': standard output)")
        group.add_argument("--audit-log-maxsize", type=int, default=0,
                           help="megabytes of a log file before it is rotated (0: 100)")
        group.add_argument("--audit-log-maxbackup", type=int, default=0,
                           help="rotated log files kept (0: all, subject to --audit-log-maxage)")
        group.add_argument("--audit-log-maxage", type=int, default=0,
                           help="days a rotated log file is kept (0: no age limit)")
        group.add_argument("--audit-log-format", default="json", choices=["json"],
                           help="only json (one Event per line) is supported")

    @classmethod
    def take(cls, values: dict[str, Any]) -> AuditOptions:
        """Remove this group's values from parsed flags (``vars(namespace)``) and return them."""
        values.pop("audit_log_format")
        return cls(policy_file=values.pop("audit_policy_file"), log_path=values.pop("audit_log_path"),
                   log_maxsize=values.pop("audit_log_maxsize"), log_maxbackup=values.pop("audit_log_maxbackup"),
                   log_maxage=values.pop("audit_log_maxage"))

    def validate(self) -> list[str]:
        """Problems with the flags, the policy file included (so a bad file is a usage error)."""
        problems = [f"--audit-log-{name} must not be negative"
                    for name, value in (("maxsize", self.log_maxsize), ("maxbackup", self.log_maxbackup),
                                        ("maxage", self.log_maxage)) if value < 0]
        if self.policy_file:
            try:
                Policy.load(self.policy_file)
            except PolicyError as exc:
                problems.append(f"--audit-policy-file: {exc}")
        return problems

    def build(self) -> Auditor:
        """The auditor: audit IDs only unless both a policy and a log path are given (as upstream,
        a backend without a policy logs nothing). Raises PolicyError for a bad policy file."""
        if not (self.policy_file and self.log_path):
            if self.policy_file or self.log_path:
                log.warning("auditing is off: it needs both --audit-policy-file and --audit-log-path")
            return Auditor()
        policy = Policy.load(self.policy_file)
        backend = LogBackend(self.log_path, self.log_maxsize, self.log_maxbackup, self.log_maxage)
        log.info("audit: %d policy rules, logging to %s", len(policy.rules), self.log_path)
        return Auditor(policy, backend)
