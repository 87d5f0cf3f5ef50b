"""Cluster DNS (``kubeplane dns``): CoreDNS's kubernetes plugin, per the Kubernetes DNS spec.

``records.py`` computes each Service's records, ``store.py`` keeps them indexed from informers
(``sources.py``), ``resolver.py`` answers a question (NXDOMAIN vs NODATA, CNAMEs, pod names),
``wire.py`` speaks the wire format through dnspython, ``server.py`` serves UDP and TCP with
asyncio, ``forward.py`` sends out-of-zone names to ``--upstream`` resolvers (none by default),
``sockets.py`` binds inside a node's network namespace and ``app.py`` is the process.
"""

from kubeplane.network.dns.records import Record, Srv, service_records
from kubeplane.network.dns.resolver import PodMode, Rcode, Resolution, Resolver
from kubeplane.network.dns.store import ClusterRecords

__all__ = ["ClusterRecords", "PodMode", "Rcode", "Record", "Resolution", "Resolver", "Srv", "service_records"]
