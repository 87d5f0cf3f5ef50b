"""The Job controller (upstream ``pkg/controller/job``)."""

from kubeplane.controllers.job.controller import JobController

__all__ = ["JobController"]
