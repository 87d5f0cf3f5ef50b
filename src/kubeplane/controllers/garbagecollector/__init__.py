"""The garbage collector: deletes objects whose owners are gone and carries out foreground and
orphan deletion (upstream ``pkg/controller/garbagecollector``)."""

from kubeplane.controllers.garbagecollector.controller import GarbageCollector

__all__ = ["GarbageCollector"]
