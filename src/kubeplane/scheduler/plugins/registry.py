"""Every in-tree plugin by name."""

from __future__ import annotations

from kubeplane.scheduler.framework.registry import Registry
from kubeplane.scheduler.plugins import (
    defaultbinder,
    defaultpreemption,
    imagelocality,
    nodeaffinity,
    nodename,
    nodeports,
    nodeunschedulable,
    queuesort,
    schedulinggates,
    tainttoleration,
)
from kubeplane.scheduler.plugins.interpodaffinity import plugin as interpodaffinity
from kubeplane.scheduler.plugins.noderesources import balanced_allocation, fit
from kubeplane.scheduler.plugins.podtopologyspread import plugin as podtopologyspread


def in_tree_registry() -> Registry:
    return {
        nodename.NAME: nodename.new,
        nodeunschedulable.NAME: nodeunschedulable.new,
        tainttoleration.NAME: tainttoleration.new,
        nodeaffinity.NAME: nodeaffinity.new,
        nodeports.NAME: nodeports.new,
        fit.NAME: fit.new,
        balanced_allocation.NAME: balanced_allocation.new,
        imagelocality.NAME: imagelocality.new,
        podtopologyspread.NAME: podtopologyspread.new,
        interpodaffinity.NAME: interpodaffinity.new,
        schedulinggates.NAME: schedulinggates.new,
        queuesort.NAME: queuesort.new,
        defaultbinder.NAME: defaultbinder.new,
        defaultpreemption.NAME: defaultpreemption.new,
    }
