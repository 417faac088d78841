"""The GCP resource type tokens the rules judge, exactly as pulumi-gcp 10.2 registers them.

The casing is the provider's, irregular on purpose: ``sSLPolicy``,
``uRLMap``, ``iAMMember``, ``targetSSLProxy``.
"""

from __future__ import annotations

# Data stores
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"

# Cloud Storage: the bucket, its IAM resources and its (legacy) access control lists
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET_IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
BUCKET_IAM_POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
BUCKET_ACL = "gcp:storage/bucketACL:BucketACL"
BUCKET_ACCESS_CONTROL = "gcp:storage/bucketAccessControl:BucketAccessControl"
DEFAULT_OBJECT_ACL = "gcp:storage/defaultObjectACL:DefaultObjectACL"
DEFAULT_OBJECT_ACCESS_CONTROL = "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl"
OBJECT_ACL = "gcp:storage/objectACL:ObjectACL"
OBJECT_ACCESS_CONTROL = "gcp:storage/objectAccessControl:ObjectAccessControl"

# Network
NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"

# Edge: the HTTPS load balancer's pieces and Cloud Armor
SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
REGION_SSL_POLICY = "gcp:compute/regionSslPolicy:RegionSslPolicy"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
REGION_HTTPS_PROXY = "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy"
SSL_PROXY = "gcp:compute/targetSSLProxy:TargetSSLProxy"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
REGION_HTTP_PROXY = "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy"
URL_MAP = "gcp:compute/uRLMap:URLMap"
REGION_URL_MAP = "gcp:compute/regionUrlMap:RegionUrlMap"
BACKEND_SERVICE = "gcp:compute/backendService:BackendService"
REGION_BACKEND_SERVICE = "gcp:compute/regionBackendService:RegionBackendService"
SECURITY_POLICY = "gcp:compute/securityPolicy:SecurityPolicy"
REGION_SECURITY_POLICY = "gcp:compute/regionSecurityPolicy:RegionSecurityPolicy"

# Compute
INSTANCE = "gcp:compute/instance:Instance"
INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
REGION_INSTANCE_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
DISK = "gcp:compute/disk:Disk"
RESOURCE_POLICY = "gcp:compute/resourcePolicy:ResourcePolicy"
DISK_POLICY_ATTACHMENT = "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment"

# Keys and secrets
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SECRET = "gcp:secretmanager/secret:Secret"
REGIONAL_SECRET = "gcp:secretmanager/regionalSecret:RegionalSecret"

# IAM on the project, keys and secrets
PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_IAM_BINDING = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_IAM_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
CRYPTO_KEY_IAM_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
CRYPTO_KEY_IAM_BINDING = "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding"
CRYPTO_KEY_IAM_POLICY = "gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy"
KEY_RING_IAM_MEMBER = "gcp:kms/keyRingIAMMember:KeyRingIAMMember"
KEY_RING_IAM_BINDING = "gcp:kms/keyRingIAMBinding:KeyRingIAMBinding"
KEY_RING_IAM_POLICY = "gcp:kms/keyRingIAMPolicy:KeyRingIAMPolicy"
SECRET_IAM_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
SECRET_IAM_BINDING = "gcp:secretmanager/secretIamBinding:SecretIamBinding"
SECRET_IAM_POLICY = "gcp:secretmanager/secretIamPolicy:SecretIamPolicy"
REGIONAL_SECRET_IAM_MEMBER = "gcp:secretmanager/regionalSecretIamMember:RegionalSecretIamMember"
REGIONAL_SECRET_IAM_BINDING = "gcp:secretmanager/regionalSecretIamBinding:RegionalSecretIamBinding"
REGIONAL_SECRET_IAM_POLICY = "gcp:secretmanager/regionalSecretIamPolicy:RegionalSecretIamPolicy"
# IAM on a service account: who may act as it (impersonate it, or be it from a Kubernetes service account)
SA_IAM_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
SA_IAM_BINDING = "gcp:serviceaccount/iAMBinding:IAMBinding"
SA_IAM_POLICY = "gcp:serviceaccount/iAMPolicy:IAMPolicy"
SA_IAM = (SA_IAM_MEMBER, SA_IAM_BINDING, SA_IAM_POLICY)

# Groups several rules share
VMS = (INSTANCE, INSTANCE_TEMPLATE, REGION_INSTANCE_TEMPLATE)
TEMPLATES = (INSTANCE_TEMPLATE, REGION_INSTANCE_TEMPLATE)
SSL_POLICIES = (SSL_POLICY, REGION_SSL_POLICY)
TLS_PROXIES = (HTTPS_PROXY, REGION_HTTPS_PROXY, SSL_PROXY)
HTTP_PROXIES = (HTTP_PROXY, REGION_HTTP_PROXY)
URL_MAPS = (URL_MAP, REGION_URL_MAP)
BACKEND_SERVICES = (BACKEND_SERVICE, REGION_BACKEND_SERVICE)
SECURITY_POLICIES = (SECURITY_POLICY, REGION_SECURITY_POLICY)
SECRETS = (SECRET, REGIONAL_SECRET)
BUCKET_IAM = (BUCKET_IAM_MEMBER, BUCKET_IAM_BINDING, BUCKET_IAM_POLICY)
BUCKET_ACLS = (
    BUCKET_ACL,
    BUCKET_ACCESS_CONTROL,
    DEFAULT_OBJECT_ACL,
    DEFAULT_OBJECT_ACCESS_CONTROL,
    OBJECT_ACL,
    OBJECT_ACCESS_CONTROL,
)
IAM = (
    PROJECT_IAM_MEMBER,
    PROJECT_IAM_BINDING,
    PROJECT_IAM_POLICY,
    CRYPTO_KEY_IAM_MEMBER,
    CRYPTO_KEY_IAM_BINDING,
    CRYPTO_KEY_IAM_POLICY,
    KEY_RING_IAM_MEMBER,
    KEY_RING_IAM_BINDING,
    KEY_RING_IAM_POLICY,
    SECRET_IAM_MEMBER,
    SECRET_IAM_BINDING,
    SECRET_IAM_POLICY,
    REGIONAL_SECRET_IAM_MEMBER,
    REGIONAL_SECRET_IAM_BINDING,
    REGIONAL_SECRET_IAM_POLICY,
)

# Backup for GKE
GKE_BACKUP_PLAN = "gcp:gkebackup/backupPlan:BackupPlan"
