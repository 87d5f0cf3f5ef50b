"""The CronJob controller (upstream ``pkg/controller/cronjob``, the v2 controller)."""

from kubeplane.controllers.cronjob.controller import CronJobController

__all__ = ["CronJobController"]
