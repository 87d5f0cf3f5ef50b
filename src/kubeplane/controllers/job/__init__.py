"""The Job controller (upstream ``pkg/controller/job``)."""

from kubeplane.controllers.job.controller import JOBS, JobController

__all__ = ["JOBS", "JobController"]
