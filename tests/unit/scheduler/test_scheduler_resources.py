from kubeplane.scheduler.framework.resources import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Resources,
    effective_requests,
)


def container(name: str, cpu: str | None = None, memory: str | None = None, **extra: str) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"name": name, "image": "x", "resources": {"requests": requests}, **extra}


def test_quantities_are_parsed_in_milli_cpu_and_bytes() -> None:
    parsed = Resources.from_list({"cpu": "1.5", "memory": "1Gi", "pods": "110", "nvidia.com/gpu": "2"})
    assert (parsed.milli_cpu, parsed.memory, parsed.allowed_pods) == (1500, 2**30, 110)
    assert parsed.scalars == {"nvidia.com/gpu": 2}
    assert Resources.from_list({"cpu": "100m"}).milli_cpu == 100


def test_init_containers_sidecars_and_overhead() -> None:
    pod = {"spec": {
        "containers": [container("a", "100m", "100Mi"), container("b", "200m")],
        "initContainers": [container("init1", "500m"), container("sidecar", "50m", restartPolicy="Always"),
                           container("init2", "300m")],
        "overhead": {"cpu": "10m"},
    }}
    requests = effective_requests(pod)
    # Apps (300m) + sidecar (50m) = 350m, below init1 alone (500m); overhead on top.
    assert requests.milli_cpu == 510
    assert requests.memory == 100 * 2**20


def test_sidecar_counts_with_the_app_containers() -> None:
    pod = {"spec": {"containers": [container("a", "1")],
                    "initContainers": [container("sidecar", "1", restartPolicy="Always")]}}
    assert effective_requests(pod).milli_cpu == 2000


def test_non_zero_defaults_for_scoring() -> None:
    pod = {"spec": {"containers": [container("a")]}}
    assert effective_requests(pod).milli_cpu == 0
    non_zero = effective_requests(pod, non_zero=True)
    assert (non_zero.milli_cpu, non_zero.memory) == (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST)
