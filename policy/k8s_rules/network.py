"""Exposure and isolation: Services, Ingresses, Namespaces and their default-deny NetworkPolicies.

A Service of type LoadBalancer (or NodePort) is reachable from outside the
cluster; an internal load balancer (the cloud's annotation for it) only
from the VPC. An Ingress serves TLS for the hosts its ``spec.tls`` lists.
A namespace is isolated when Pod Security Admission enforces the
restricted standard on it and a NetworkPolicy selecting all its pods denies
ingress and egress by default, so that every allowed flow is a policy of
its own.

The stack rule matches NetworkPolicies to namespaces by name, or, while a
name is only known at apply (an auto-named namespace in preview), by the
policy's dependency on the namespace. A namespace that an unknown policy
might protect is not reported: unknown is not a violation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.k8s_rules.common import annotations_of, dig, is_internet, labels_of, number
from policy.k8s_rules.tokens import INGRESS, NAMESPACE, NETWORK_POLICY, SERVICE
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

# Ports of data, search, object storage and queue services: never reachable from outside the cluster.
DATA_PORTS = {
    1433: "SQL Server",
    2379: "etcd",
    3306: "MySQL",
    5432: "PostgreSQL",
    5672: "RabbitMQ",
    5984: "CouchDB",
    6379: "Redis",
    6380: "Redis (TLS)",
    8983: "Solr",
    9000: "MinIO API",
    9001: "MinIO console",
    9042: "Cassandra",
    9200: "Elasticsearch",
    9300: "Elasticsearch transport",
    11211: "memcached",
    27017: "MongoDB",
}
EXPOSED_TYPES = {"LoadBalancer", "NodePort"}
# Annotations that make a LoadBalancer Service an internal (VPC-only) load balancer, by cloud.
INTERNAL_LB = {
    "networking.gke.io/load-balancer-type": "internal",
    "cloud.google.com/load-balancer-type": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
}
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
PSA = "pod-security.kubernetes.io/"
GCE_CLASSES = {"gce", "gce-internal"}


# --- Services ---------------------------------------------------------------------------------------------------------


def _service_type(props: Mapping[str, Any]) -> str:
    return str(dig(props, "spec", "type") or "ClusterIP")


def check_no_exposed_data_port(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    kind = _service_type(props)
    if kind not in EXPOSED_TYPES:
        return
    seen: set[int] = set()
    for port in dig(props, "spec", "ports") or []:
        for value in ((port or {}).get("port"), (port or {}).get("targetPort")):
            number_ = number(value)
            if number_ is None or int(number_) not in DATA_PORTS or int(number_) in seen:
                continue
            seen.add(int(number_))
            yield (
                f"{ctx.name} exposes {DATA_PORTS[int(number_)]} port {int(number_)} outside the cluster (type {kind}); "
                "make it a ClusterIP Service reached only from inside the namespace"
            )


def _internal(props: Mapping[str, Any]) -> bool:
    annotations = {k: v.lower() for k, v in annotations_of(props.get("metadata") or {}).items()}
    return any(annotations.get(key) == value for key, value in INTERNAL_LB.items())


def check_load_balancer_source_ranges(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _service_type(props) != "LoadBalancer" or _internal(props):
        return
    ranges = [str(r).strip() for r in dig(props, "spec", "loadBalancerSourceRanges") or [] if str(r).strip()]
    annotated = annotations_of(props.get("metadata") or {}).get(SOURCE_RANGES_ANNOTATION, "")
    ranges += [r.strip() for r in annotated.split(",") if r.strip()]
    if not ranges:
        yield (
            f"{ctx.name} is an internet-facing load balancer open to every address (no loadBalancerSourceRanges); "
            "list the client CIDRs in spec.loadBalancerSourceRanges, or make it internal"
        )
        return
    world = sorted(r for r in ranges if is_internet(r))
    if world:
        yield f"{ctx.name} admits {world} (loadBalancerSourceRanges): the whole internet; list only the client CIDRs"


# --- Ingresses --------------------------------------------------------------------------------------------------------


NGINX_ANNOTATIONS = "nginx.ingress.kubernetes.io/"
# Annotations that make a controller speak TLS to the backends, by controller.
HTTPS_BACKENDS = {
    f"{NGINX_ANNOTATIONS}backend-protocol": {"https", "grpcs"},
    "alb.ingress.kubernetes.io/backend-protocol": {"https"},
}


def _holds_phi_or_prod(props: Mapping[str, Any], ctx: CheckContext) -> str | None:
    """Why the object's traffic needs TLS to the pods ("in prod", "with PHI"), or None. The stack's environment and
    classification decide; a label on the object can only add strictness."""
    labels = labels_of(props)
    if "prod" in (ctx.environment, labels.get("clinical.platform/environment")):
        return "in prod"
    if "phi" in (ctx.data_classification, labels.get("clinical.platform/data-classification")):
        return "with PHI"
    return None


def check_ingress_backend_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    why = _holds_phi_or_prod(props, ctx)
    if why is None:
        return
    annotations = annotations_of(props.get("metadata") or {})
    https = [k for k, allowed in HTTPS_BACKENDS.items() if str(annotations.get(k, "")).lower() in allowed]
    if not https:
        yield (
            f"{ctx.name} forwards to its pods over plain HTTP {why}; terminate TLS in the pod (a TLS sidecar) and "
            f"set {NGINX_ANNOTATIONS}backend-protocol: HTTPS with proxy-ssl-verify: on"
        )
        return
    if https != [f"{NGINX_ANNOTATIONS}backend-protocol"]:
        return  # another controller's HTTPS backend: its verification is the controller's setting
    if str(annotations.get(f"{NGINX_ANNOTATIONS}proxy-ssl-verify", "off")).lower() != "on":
        yield (
            f"{ctx.name} speaks HTTPS to its pods without verifying their certificate (proxy-ssl-verify is not on): "
            "anyone on the pod network could answer in their place; set proxy-ssl-verify: on"
        )
    elif not annotations.get(f"{NGINX_ANNOTATIONS}proxy-ssl-secret"):
        yield (
            f"{ctx.name} verifies its pods against no CA (no proxy-ssl-secret); name the Secret holding ca.crt "
            "as <namespace>/<name>"
        )


def _covers(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _ingress_class(props: Mapping[str, Any]) -> str:
    annotated = annotations_of(props.get("metadata") or {}).get("kubernetes.io/ingress.class", "")
    return str(dig(props, "spec", "ingressClassName") or annotated)


def check_ingress_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    entries = [t for t in dig(props, "spec", "tls") or [] if t is not None]
    if not entries:
        yield (
            f"{ctx.name} serves its routes over plain HTTP (no spec.tls); add a tls entry with a certificate "
            "Secret covering every host"
        )
        return
    patterns = [str(h) for t in entries for h in t.get("hosts") or []]
    every_host = any(not t.get("hosts") for t in entries)  # a tls entry without hosts covers the controller's default
    for rule in dig(props, "spec", "rules") or []:
        host = str((rule or {}).get("host") or "")
        if host and not every_host and not any(_covers(p, host) for p in patterns):
            yield f"{ctx.name} serves {host} without TLS (no spec.tls entry lists it); add {host} to a tls entry's hosts"
    annotations = {k: v.lower() for k, v in annotations_of(props.get("metadata") or {}).items()}
    if annotations.get("nginx.ingress.kubernetes.io/ssl-redirect") == "false":
        yield f"{ctx.name} also serves plain HTTP (nginx.ingress.kubernetes.io/ssl-redirect: false); remove the annotation"
    allow_http = annotations.get("kubernetes.io/ingress.allow-http")
    gce = _ingress_class(props) in GCE_CLASSES
    frontend = "networking.gke.io/v1beta1.frontendconfig" in annotations
    if allow_http == "true" or (gce and allow_http != "false" and not frontend):
        yield (
            f'{ctx.name} also serves plain HTTP on port 80 (kubernetes.io/ingress.allow-http); set it to "false" '
            "or redirect with a FrontendConfig"
        )


# --- Namespaces -------------------------------------------------------------------------------------------------------


def check_namespace_restricted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    level = labels_of(props).get(PSA + "enforce")
    if level is None:
        yield (
            f"{ctx.name} enforces no Pod Security Standard (no {PSA}enforce label), so pods get the cluster's default, "
            f"privileged unless configured; label it {PSA}enforce: restricted"
        )
    elif level != "restricted":
        yield f"{ctx.name} enforces only the {level} Pod Security Standard; label it {PSA}enforce: restricted"


def check_namespace_audit_warn(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    labels = labels_of(props)
    for mode, what in (("audit", "the API server's audit log"), ("warn", "a warning to whoever applies it")):
        if labels.get(PSA + mode) != "restricted":
            yield (
                f"{ctx.name} does not {mode} against the restricted standard, so a Deployment whose pods enforce "
                f"would refuse is accepted without {what}; label it {PSA}{mode}: restricted"
            )


# --- the stack: a default-deny NetworkPolicy in every namespace --------------------------------------------------------

DIRECTIONS = ("Ingress", "Egress")
UNKNOWN = object()


def _known(read: Any) -> Any:
    """``read()``, or UNKNOWN when it touches a value only known at apply."""
    try:
        return read()
    except UnknownValueError:
        return UNKNOWN


def _empty_selector(selector: Any) -> bool:
    return not selector or not (selector.get("matchLabels") or selector.get("matchExpressions"))


def _policy_types(spec: Mapping[str, Any]) -> set[str]:
    """The directions a policy governs: its policyTypes, else Ingress (and Egress when it has egress rules)."""
    given = spec.get("policyTypes")
    if given:
        return {str(t) for t in given}
    return {"Ingress", *(["Egress"] if spec.get("egress") else [])}


def _peer_unrestricted(peer: Mapping[str, Any]) -> bool:
    block = peer.get("ipBlock")
    if block:
        return is_internet(str(block.get("cidr") or "")) and not block.get("except")
    return (
        "namespaceSelector" in list(peer)
        and _empty_selector(peer.get("namespaceSelector"))
        and _empty_selector(peer.get("podSelector"))
    )


def _allows_everything(spec: Mapping[str, Any], direction: str) -> bool:
    """A rule of this direction that restricts neither peers nor ports (an empty rule ``{}`` allows all)."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for given in spec.get(key) or []:
        rule = given or {}
        peers = [p for p in rule.get(peers_key) or [] if p is not None]
        if not rule.get("ports") and (not peers or any(_peer_unrestricted(p) for p in peers)):
            return True
    return False


def _denies(policy: StackResource) -> set[str] | object:
    """The directions this policy denies by default for every pod of its namespace (UNKNOWN if not yet known)."""

    def read() -> set[str]:
        spec = policy.props.get("spec") or {}
        if not _empty_selector(spec.get("podSelector")):
            return set()
        return {d for d in _policy_types(spec) & set(DIRECTIONS) if not _allows_everything(spec, d)}

    return _known(read)


def _opens(policy: StackResource) -> set[str] | object:
    """The directions an all-pods policy opens to everything (undoing a default deny), UNKNOWN if not yet known."""

    def read() -> set[str]:
        spec = policy.props.get("spec") or {}
        if not _empty_selector(spec.get("podSelector")):
            return set()
        return {d for d in _policy_types(spec) & set(DIRECTIONS) if _allows_everything(spec, d)}

    return _known(read)


def _name(resource: StackResource, default: str | None = None) -> Any:
    """metadata.name (or metadata.namespace's default), None when missing, UNKNOWN when only known at apply."""
    key = "name" if resource.resource_type == NAMESPACE else "namespace"
    value = _known(lambda: (resource.props.get("metadata") or {}).get(key))
    if value is UNKNOWN:
        return UNKNOWN
    return str(value) if value else default


def check_namespace_default_deny(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    policies = [r for r in resources if r.resource_type == NETWORK_POLICY]
    for namespace in (r for r in resources if r.resource_type == NAMESPACE):
        name = _name(namespace, default=None)
        if name is None:
            name = UNKNOWN  # auto-named: the provider picks the name
        mine: list[StackResource] = []
        maybe = False
        for policy in policies:
            target = _name(policy, default="default")
            if target is not UNKNOWN and name is not UNKNOWN:
                if target == name:
                    mine.append(policy)
            elif namespace.urn in policy.dependencies:
                mine.append(policy)  # its namespace is this one's name, known only at apply
            else:
                maybe = True
        denied: set[str] = set()
        opened: set[str] = set()
        for policy in mine:
            denies, opens = _denies(policy), _opens(policy)
            if denies is UNKNOWN or opens is UNKNOWN:
                maybe = True
                continue
            assert isinstance(denies, set) and isinstance(opens, set)
            denied |= denies
            opened |= opens
        missing = [d for d in DIRECTIONS if d not in denied or d in opened]
        if not missing or maybe:
            continue
        label = namespace.name if name is UNKNOWN else f"{namespace.name} ({name})"
        what = " and ".join(missing)
        yield (
            namespace.urn,
            f"{label} has no default-deny NetworkPolicy for {what}: add one with podSelector: {{}}, "
            "policyTypes: [Ingress, Egress] and no rules, then allow each flow with its own policy",
        )


NO_EXPOSED_DATA_PORT = Rule(
    name="k8s-service-no-exposed-data-port",
    family="firewall",
    severity="critical",
    description="No LoadBalancer or NodePort Service exposes a database, cache, search, queue or object-store port.",
    remediation="Make data services ClusterIP and reach them from inside the cluster; admins use kubectl port-forward (no checkov equivalent).",
    hipaa=HIPAA["access-control"],
    resource_types=(SERVICE,),
    check=check_no_exposed_data_port,
    nist="NIST 800-53 SC-7",
)
LOAD_BALANCER_SOURCE_RANGES = Rule(
    name="k8s-load-balancer-source-ranges",
    family="firewall",
    severity="high",
    description="Internet-facing LoadBalancer Services admit only listed client CIDRs (loadBalancerSourceRanges), never 0.0.0.0/0.",
    remediation="Set spec.loadBalancerSourceRanges to the clients' CIDRs, or annotate the Service as an internal load balancer (no checkov equivalent).",
    hipaa=HIPAA["access-control"],
    resource_types=(SERVICE,),
    check=check_load_balancer_source_ranges,
    nist="NIST 800-53 SC-7",
)
INGRESS_TLS = Rule(
    name="k8s-ingress-tls",
    family="tls",
    severity="critical",
    description="Ingresses serve every host over TLS (spec.tls lists it) and do not also serve plain HTTP.",
    remediation="Add spec.tls with a certificate Secret (cert-manager) whose hosts cover every rule's host; never ssl-redirect: false or allow-http: true (no checkov equivalent).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(INGRESS,),
    check=check_ingress_tls,
    nist="NIST 800-53 SC-8",
)
INGRESS_BACKEND_TLS = Rule(
    name="k8s-ingress-backend-tls",
    family="tls",
    severity="high",
    description="In a prod or PHI stack, Ingresses speak TLS to the pods too (a verified HTTPS backend), so no "
    "request with PHI crosses the cluster network in clear.",
    remediation="Put a TLS sidecar with a certificate from a CA you control in front of the pod's port and annotate the "
    "Ingress nginx.ingress.kubernetes.io/backend-protocol: HTTPS, proxy-ssl-verify: on, proxy-ssl-secret: "
    "<namespace>/<secret with ca.crt> and proxy-ssl-name (the platform does this for every service that handles "
    "PHI); a route to a service that never sees PHI needs a signed waiver (no checkov equivalent).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(INGRESS,),
    check=check_ingress_backend_tls,
    nist="NIST 800-53 SC-8",
)
NAMESPACE_RESTRICTED = Rule(
    name="k8s-namespace-restricted",
    family="hardening",
    severity="high",
    description="Namespaces enforce the restricted Pod Security Standard (label pod-security.kubernetes.io/enforce: restricted).",
    remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted (baseline is not enough) (no checkov equivalent).",
    hipaa=HIPAA["access-control"],
    resource_types=(NAMESPACE,),
    check=check_namespace_restricted,
    nist="NIST 800-53 CM-7",
)
NAMESPACE_AUDIT_WARN = Rule(
    name="k8s-namespace-audit-warn",
    family="audit",
    severity="low",
    description="Namespaces also audit and warn against the restricted standard, so a workload whose pods would be refused is seen when it is applied.",
    remediation="Label the namespace pod-security.kubernetes.io/audit: restricted and pod-security.kubernetes.io/warn: restricted (no checkov equivalent).",
    hipaa=HIPAA["audit"],
    resource_types=(NAMESPACE,),
    check=check_namespace_audit_warn,
    nist="NIST 800-53 AU-12",
    default_enforcement="advisory",
)
NAMESPACE_DEFAULT_DENY = StackRule(
    name="k8s-namespace-default-deny",
    family="firewall",
    severity="high",
    description="Every namespace the stack creates has a NetworkPolicy that selects all its pods and denies ingress and egress by default.",
    remediation="Add a NetworkPolicy in the namespace with podSelector: {}, policyTypes: [Ingress, Egress] and no rules; allow each flow (DNS, the ingress controller, the database) with its own policy (checkov CKV2_K8S_6).",
    hipaa=HIPAA["access-control"],
    resource_types=(NAMESPACE, NETWORK_POLICY),
    check=check_namespace_default_deny,
    nist="NIST 800-53 SC-7(5)",
)
