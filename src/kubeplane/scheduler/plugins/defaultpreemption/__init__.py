"""DefaultPreemption: the PostFilter plugin that evicts lower-priority pods (see ``plugin.py``)."""

from kubeplane.scheduler.plugins.defaultpreemption.plugin import NAME, DefaultPreemption, new

__all__ = ["NAME", "DefaultPreemption", "new"]
