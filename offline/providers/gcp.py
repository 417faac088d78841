"""The Google Cloud provider (pulumi-gcp): planned, no stack registers it yet.

Only the kinds are known, for rule coverage; a stack that registers one of
these types fails the provider profile test until its creation time,
price and mock outputs are filled in here.
"""

from __future__ import annotations

from offline.providers.profile import Provider, ResourceProfile, planned

RESOURCES: dict[str, ResourceProfile] = {
    "gcp:compute/instance:Instance": planned("workload"),
    "gcp:compute/disk:Disk": planned("storage"),
    "gcp:sql/databaseInstance:DatabaseInstance": planned("database"),
    "gcp:redis/instance:Instance": planned("cache"),
    "gcp:storage/bucket:Bucket": planned("bucket"),
    "gcp:compute/firewall:Firewall": planned("firewall"),
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": planned("load-balancer"),
    "gcp:kms/cryptoKey:CryptoKey": planned("key"),
    "gcp:secretmanager/secret:Secret": planned("secret"),
    # Kinds of the other types policy/gcp_rules judges.
    "gcp:compute/instanceTemplate:InstanceTemplate": planned("vm"),
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": planned("vm"),
    "gcp:compute/network:Network": planned("network"),
    "gcp:compute/subnetwork:Subnetwork": planned("vpc"),  # GCP keeps flow logs on the subnet: firewall and audit
    "gcp:compute/sSLPolicy:SSLPolicy": planned("supporting"),  # the TLS setting of a target proxy
    "gcp:compute/targetHttpProxy:TargetHttpProxy": planned("listener"),
    "gcp:compute/backendService:BackendService": planned("load-balancer"),
    "gcp:compute/securityPolicy:SecurityPolicy": planned("firewall"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": planned("supporting"),  # judged as the bucket's exposure
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": planned("supporting"),
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy": planned("supporting"),
    "gcp:projects/iAMMember:IAMMember": planned("identity"),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": planned("identity"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": planned("identity"),
}

PROVIDER = Provider(name="gcp", resources=RESOURCES, invokes={})
