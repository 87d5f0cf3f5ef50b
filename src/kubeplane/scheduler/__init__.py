"""kube-scheduler: a scheduling queue, a plugin framework and the core plugins.

``framework/`` holds the extension-point protocols, statuses, cycle state and node snapshot;
``queue/`` the active/backoff/unschedulable queue; ``plugins/<name>/`` one module per plugin;
``scheduler.py`` the scheduling and binding cycles; ``app.py`` the process (``main(argv)``).
"""
