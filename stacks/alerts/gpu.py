"""The GPU exporter: every GPU of a Docker host or GPU VM, for the GPU memory alerts.

Image contract (utkuozdemir/nvidia_gpu_exporter 1.4.1, tag v1.4.1: ``Dockerfile``,
``cmd/nvidia_gpu_exporter/main.go``, ``internal/exporter/exporter.go``): ``FROM ubuntu:24.04``
(bash and grep, no curl or wget), no ``USER`` (root), ``EXPOSE 9835``, ``ENTRYPOINT
/usr/bin/nvidia_gpu_exporter``; flags ``--web.listen-address`` (default ``:9835``),
``--web.telemetry-path`` (``/metrics``); each scrape runs ``nvidia-smi --query-gpu`` and exports
``nvidia_smi_memory_used_bytes`` / ``nvidia_smi_memory_total_bytes`` (MiB x 1048576) labelled
``uuid`` only, the GPU's name on ``nvidia_smi_gpu_info{uuid,name,...}``. The image ships no
nvidia-smi: the NVIDIA container runtime mounts it and NVML with the ``utility`` capability.

Run as nobody: nvidia-smi needs read-write access to ``/dev/nvidia*``, which the runtime
mounts with the host's modes (0666 with the driver's default ``NVreg_DeviceFileMode``), not
root; the platform's GPU services already run non-root the same way. It asks for no GPU of the
allocator (``observes_gpus``), so it adds nothing to any card's VRAM.
"""

from __future__ import annotations

from components.specs import HealthCheckSpec, ResourcesSpec, ServiceSpec
from stacks.monitoring import Images

GPU_EXPORTER_IMAGE = "utkuozdemir/nvidia_gpu_exporter:1.4.1"
GPU_EXPORTER_PORT = 9835
NOBODY = "65534:65534"  # nobody:nogroup of the ubuntu base


def runs_on_gpus(services: tuple[ServiceSpec, ...] | list[ServiceSpec]) -> bool:
    """True when some running service of the system computes on a GPU (not a stack with GPUs off)."""
    return any(s.gpu is not None and s.replicas > 0 for s in services)


def gpu_exporter_service(images: Images) -> ServiceSpec:
    """The exporter seeing every GPU of its host (utility capability only), as nobody, read-only, no capabilities."""
    # bash's /dev/tcp, as the image has no HTTP client: the root page answers 200 without running nvidia-smi.
    probe = (
        f"exec 3<>/dev/tcp/127.0.0.1/{GPU_EXPORTER_PORT} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& grep -q '^HTTP/1.[01] 200' <&3"
    )
    return ServiceSpec(
        name="gpu-exporter",
        image=images.image("gpu-exporter", GPU_EXPORTER_IMAGE),
        port=GPU_EXPORTER_PORT,
        command=(f"--web.listen-address=:{GPU_EXPORTER_PORT}", "--web.telemetry-path=/metrics"),
        health=HealthCheckSpec(command=("bash", "-c", probe), interval_s=30, start_period_s=10),
        resources=ResourcesSpec(cpus=0.1, memory_mb=64),
        user=NOBODY,
        observes_gpus=True,
        metrics_path="/metrics",
    )
