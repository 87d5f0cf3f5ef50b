"""The only way components reach the API: requests, informers, work queues, leader election, events.

Objects are plain JSON dicts, exactly as on the wire. Typical use::

    config = load_kubeconfig(path)
    async with Client(config, component="scheduler") as client:
        factory = SharedInformerFactory(client)
        pods = factory.informer_for(PODS)
        pods.add_event_handler(EventHandlers(on_add=lambda pod: queue.add(meta_namespace_key(pod))))
        factory.start()
        await factory.wait_for_cache_sync()
"""

from kubeplane.client.clock import Clock, FakeClock, RealClock
from kubeplane.client.config import ClientConfig, ConfigError, in_cluster_config, load_kubeconfig
from kubeplane.client.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Expired,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServerTimeout,
    TooManyRequests,
    Unauthorized,
)
from kubeplane.client.events import EventRecorder
from kubeplane.client.indexer import DeletedFinalStateUnknown, Indexer, meta_namespace_key, split_key
from kubeplane.client.informer import EventHandlers, Informer, SharedInformerFactory
from kubeplane.client.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from kubeplane.client.leaselock import LeaseLock
from kubeplane.client.resource import Resource, resource_path
from kubeplane.client.rest import Client, WatchEvent
from kubeplane.client.workqueue import DelayingQueue, RateLimitingQueue, ShutDown, WorkQueue

__all__ = [
    "AlreadyExists", "ApiError", "Client", "ClientConfig", "Clock", "ConfigError", "Conflict", "DelayingQueue",
    "DeletedFinalStateUnknown", "EventHandlers", "EventRecorder", "Expired", "FakeClock", "Forbidden", "Gone",
    "Indexer", "Informer", "Invalid", "LeaderCallbacks", "LeaderElectionConfig", "LeaderElector", "LeaseLock",
    "NotFound", "RateLimitingQueue", "RealClock", "Resource", "ServerTimeout", "SharedInformerFactory", "ShutDown",
    "TooManyRequests", "Unauthorized", "WatchEvent", "WorkQueue", "in_cluster_config", "load_kubeconfig",
    "meta_namespace_key", "resource_path", "split_key",
]
