"""``PLATFORMS``: every supported (cloud, runtime) pair and its two implementations; the only such table.

Config validation reads it (an unsupported pair is a config error listing
these), the stack builds its ``Platform`` from it, and the matrix test plans
every system on every entry. Adding a cloud or a runtime is a folder under
``components/clouds/`` or ``components/runtimes/`` plus one line here.
"""

from __future__ import annotations

from components.clouds.aws.cloud import AwsCloud
from components.clouds.aws.eks import EksCloud
from components.clouds.gcp.cloud import GcpCloud
from components.clouds.gcp.gke import GkeCloud
from components.clouds.onprem.cloud import OnpremCloud
from components.clouds.onprem.cluster import OnpremClusterCloud
from components.platform import PlatformPair
from components.runtimes.docker_host.runtime import DockerHostRuntime
from components.runtimes.docker_on_vm.runtime import DockerOnVmRuntime
from components.runtimes.kubernetes.runtime import KubernetesRuntime

PLATFORMS: dict[tuple[str, str], PlatformPair] = {
    ("onprem", "docker"): PlatformPair(OnpremCloud, DockerHostRuntime, "clinical:onprem:DockerHostPlatform"),
    ("aws", "docker"): PlatformPair(AwsCloud, DockerOnVmRuntime, "clinical:aws:AwsDockerPlatform"),
    ("gcp", "docker"): PlatformPair(GcpCloud, DockerOnVmRuntime),
    ("onprem", "kubernetes"): PlatformPair(OnpremClusterCloud, KubernetesRuntime),
    ("aws", "kubernetes"): PlatformPair(EksCloud, KubernetesRuntime),
    ("gcp", "kubernetes"): PlatformPair(GkeCloud, KubernetesRuntime),
}
