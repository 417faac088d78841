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
}

PROVIDER = Provider(name="gcp", resources=RESOURCES, invokes={})
