"""The AWS provider (pulumi-aws): every type the AWS stacks register, the types the rules plan for, and invokes.

Creation times are those seen in Terraform apply logs (testing-and-ci.md
5.3) and AWS documentation; DEFAULT_SECONDS marks a type nobody has timed.

Prices are on-demand USD, us-east-1 list prices, Q1 2026. Usage-based
charges (data transfer, NAT and LCU processing, S3 storage and requests,
log ingestion) depend on traffic and are listed at zero with the basis
"usage". Spot VMs are priced at on-demand as an upper bound.

Mock outputs: every AWS resource has an ARN (``common_outputs``); the
table adds what the program reads of each type (endpoints, DNS names,
validation records).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from components.clouds.aws.machines import hourly_price
from components.clouds.aws.postgres import INSTANCE_CLASSES, STORAGE_USD_PER_GB_MONTH
from components.clouds.aws.redis import NODE_TYPES
from offline.providers.profile import (
    DEFAULT_SECONDS,
    HOURS_PER_MONTH,
    Free,
    Invoke,
    Provider,
    ResourceProfile,
    digest,
    fake_pem,
    fixed,
    no_outputs,
    planned,
)

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

MOCK_ACCOUNT = "123456789012"
EBS_GP3_USD_PER_GB_MONTH = 0.08


# --- prices ---------------------------------------------------------------------------------


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in inputs.get("tags") or [] if t}


def asg(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The group's VMs: instance type and root volume from its tags, count from its desired capacity."""
    tags = _tags(inputs)
    itype, count = tags.get("instance-type", "?"), int(inputs.get("desiredCapacity") or inputs.get("minSize") or 1)
    disk = int(tags.get("root-volume-gb", "0"))
    per_hour = hourly_price(itype) or 0.0
    usd = count * (per_hour * HOURS_PER_MONTH + disk * EBS_GP3_USD_PER_GB_MONTH)
    return usd, f"{count} x {itype} at {per_hour:.4g}/h + {disk} GB gp3"


def ebs_volume(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """A data volume's gp3 capacity (its snapshots are AWS Backup usage)."""
    size = int(inputs.get("size") or 0)
    return size * EBS_GP3_USD_PER_GB_MONTH, f"{size} GB gp3 at {EBS_GP3_USD_PER_GB_MONTH}/GB"


def rds(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """Instance class hours (twice when multi-AZ) and gp3 storage."""
    klass = str(inputs.get("instanceClass"))
    per_hour = next((p for c, p in INSTANCE_CLASSES.values() if c == klass), 0.0)
    copies = 2 if inputs.get("multiAz") else 1
    storage = float(inputs.get("allocatedStorage") or 0)
    usd = copies * (per_hour * HOURS_PER_MONTH + storage * STORAGE_USD_PER_GB_MONTH)
    return usd, f"{klass} x{copies} at {per_hour}/h + {storage:g} GB gp3"


def elasticache(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """Node hours of every cache cluster in the group."""
    node = str(inputs.get("nodeType"))
    per_hour = next((p for n, p in NODE_TYPES.values() if n == node), 0.0)
    count = int(inputs.get("numCacheClusters") or 1)
    return count * per_hour * HOURS_PER_MONTH, f"{count} x {node} at {per_hour}/h"


def waf(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The web ACL and one charge per rule group."""
    rules = len(inputs.get("rules") or [])
    return 5.0 + rules, f"web ACL 5.00 + {rules} rule groups at 1.00 (+ requests)"


def eks_node_group(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The group's nodes: the first instance type (EKS's default t3.medium) times the desired size, and their disks."""
    itype = str((inputs.get("instanceTypes") or ["t3.medium"])[0])
    scaling = inputs.get("scalingConfig") or {}
    count = int(scaling.get("desiredSize") or scaling.get("minSize") or 1)
    disk = 0 if inputs.get("launchTemplate") else int(inputs.get("diskSize") or 20)  # a launch template sizes its own
    per_hour = hourly_price(itype)
    usd = count * ((per_hour or 0.0) * HOURS_PER_MONTH + disk * EBS_GP3_USD_PER_GB_MONTH)
    rate = f"{per_hour:.4g}/h" if per_hour is not None else "a price not in the catalogue"
    return usd, f"{count} x {itype} at {rate} + {disk} GB EBS"


NO_CHARGE = Free("AWS charges nothing for it")
PART_OF_VPC = Free("AWS charges nothing for it; traffic through it is usage")
PART_OF_BUCKET = Free("a setting of its bucket, which is priced")
PART_OF_LOAD_BALANCER = Free("included in the load balancer's hours and LCUs")


# --- outputs --------------------------------------------------------------------------------


def arn(type_token: str, name: str) -> dict[str, Any]:
    """Every AWS resource has an ARN; the shape follows the service (a secret's as Secrets Manager writes it,
    ``secret:<name>-<6 characters>``, which user data may name without holding the secret)."""
    service = type_token.split(":")[1].split("/")[0]
    if type_token == "aws:secretsmanager/secret:Secret":
        return {"arn": f"arn:aws:secretsmanager:us-east-1:{MOCK_ACCOUNT}:secret:{name}-{digest(name, 6)}"}
    return {"arn": f"arn:aws:{service}:us-east-1:{MOCK_ACCOUNT}:{name}"}


def _acm_certificate(n: str, i: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "domainValidationOptions": [
            {
                "domainName": i.get("domainName"),
                "resourceRecordName": f"_x1.{i.get('domainName')}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_y1.acm-validations.aws.",
            }
        ]
    }


def _eks_cluster(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a program reads of a new cluster: endpoint, CA, OIDC issuer (for IRSA), and the VPC config it completes."""
    cluster = str(inputs.get("name") or name)
    oidc = digest(f"{cluster}-oidc", 32).upper()
    return {
        "name": cluster,
        "endpoint": f"https://{digest(cluster, 32).upper()}.gr7.eu-west-2.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(fake_pem("CERTIFICATE", f"{cluster}-ca").encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.eu-west-2.amazonaws.com/id/{oidc}"}]}],
        "version": inputs.get("version") or "1.33",
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "vpcConfig": {
            **dict(inputs.get("vpcConfig") or {}),
            "clusterSecurityGroupId": f"sg-{digest(cluster, 17)}",
            "vpcId": f"vpc-{digest(cluster + '-vpc', 17)}",
        },
    }


def _eks_node_group(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    group = str(inputs.get("nodeGroupName") or name)
    return {
        "nodeGroupName": group,
        "status": "ACTIVE",
        "resources": [{"autoscalingGroups": [{"name": f"eks-{group}-{digest(group, 8)}"}]}],
    }


RESOURCES: dict[str, ResourceProfile] = {
    # Network
    "aws:ec2/vpc:Vpc": ResourceProfile(kind="vpc", create_seconds=3.0, price=NO_CHARGE, outputs=no_outputs),
    "aws:ec2/subnet:Subnet": ResourceProfile(kind="network", create_seconds=5.0, price=NO_CHARGE, outputs=no_outputs),
    "aws:ec2/internetGateway:InternetGateway": ResourceProfile(
        kind="supporting", create_seconds=3.0, price=PART_OF_VPC, outputs=no_outputs
    ),
    "aws:ec2/eip:Eip": ResourceProfile(
        kind="supporting",
        create_seconds=2.0,
        price=fixed(0.005 * HOURS_PER_MONTH, "public IPv4 0.005/h"),
        outputs=no_outputs,
    ),
    "aws:ec2/natGateway:NatGateway": ResourceProfile(
        kind="supporting",
        create_seconds=100.0,
        price=fixed(0.045 * HOURS_PER_MONTH, "0.045/h + 0.045/GB processed (usage)"),
        outputs=no_outputs,
    ),
    "aws:ec2/routeTable:RouteTable": ResourceProfile(
        kind="supporting", create_seconds=3.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ResourceProfile(
        kind="supporting", create_seconds=1.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ResourceProfile(
        kind="supporting",
        create_seconds=10.0,
        price=Free("a gateway endpoint (S3): AWS charges nothing for it"),
        outputs=no_outputs,
    ),
    "aws:ec2/flowLog:FlowLog": ResourceProfile(
        kind="supporting",
        create_seconds=5.0,
        price=Free("its records are billed as ingestion into its log group (usage)"),
        outputs=no_outputs,
    ),
    "aws:ec2/securityGroup:SecurityGroup": ResourceProfile(
        kind="firewall", create_seconds=3.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ResourceProfile(
        kind="firewall", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ResourceProfile(
        kind="firewall", create_seconds=1.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ResourceProfile(
        kind="firewall", create_seconds=1.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:ec2/securityGroupRule:SecurityGroupRule": planned("firewall"),
    # Logs, identity, keys and secrets
    "aws:cloudwatch/logGroup:LogGroup": ResourceProfile(
        kind="log", create_seconds=2.0, price=fixed(0.0, "usage: 0.50/GB ingested"), outputs=no_outputs
    ),
    "aws:iam/role:Role": ResourceProfile(kind="identity", create_seconds=3.0, price=NO_CHARGE, outputs=no_outputs),
    "aws:iam/rolePolicy:RolePolicy": ResourceProfile(
        kind="identity", create_seconds=2.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ResourceProfile(
        kind="identity", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:iam/instanceProfile:InstanceProfile": ResourceProfile(
        kind="supporting", create_seconds=8.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:kms/key:Key": ResourceProfile(
        kind="key",
        create_seconds=5.0,
        price=fixed(1.0, "1.00 per key + requests"),
        outputs=lambda n, i: {"keyId": digest(n, 8) + "-1234-5678-9abc-" + digest(n + "k", 12)},
    ),
    "aws:kms/alias:Alias": ResourceProfile(
        kind="supporting",
        create_seconds=DEFAULT_SECONDS,
        price=Free("a name for its key, which is priced"),
        outputs=no_outputs,
    ),
    "aws:kms/grant:Grant": ResourceProfile(
        kind="identity",
        create_seconds=3.0,
        price=Free("a permission on its key, which is priced"),
        outputs=lambda n, i: {"grantId": digest(n, 64), "grantToken": digest(n + "t", 64)},
    ),
    "aws:secretsmanager/secret:Secret": ResourceProfile(
        kind="secret", create_seconds=DEFAULT_SECONDS, price=fixed(0.40, "0.40 per secret"), outputs=no_outputs
    ),
    SECRET_VERSION: ResourceProfile(
        kind="supporting",
        create_seconds=DEFAULT_SECONDS,
        price=Free("included in its secret's monthly price"),
        outputs=no_outputs,
    ),
    # Data stores
    "aws:rds/instance:Instance": ResourceProfile(
        kind="database",
        create_seconds=240.0,
        price=rds,
        outputs=lambda n, i: {
            "address": f"{n}.abcdefgh.rds.amazonaws.com",
            "endpoint": f"{n}.abcdefgh.rds.amazonaws.com:5432",
            # The secret RDS creates for a managed master password (its name starts with rds!db-).
            **(
                {
                    "masterUserSecrets": [
                        {
                            "secretArn": f"arn:aws:secretsmanager:us-east-1:{MOCK_ACCOUNT}:secret:rds!db-{digest(n, 8)}",
                            "kmsKeyId": i.get("masterUserSecretKmsKeyId"),
                            "secretStatus": "active",
                        }
                    ]
                }
                if i.get("manageMasterUserPassword")
                else {}
            ),
        },
    ),
    "aws:rds/parameterGroup:ParameterGroup": ResourceProfile(
        kind="supporting", create_seconds=5.0, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:rds/subnetGroup:SubnetGroup": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:rds/cluster:Cluster": planned("database"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ResourceProfile(
        kind="cache",
        create_seconds=420.0,
        price=elasticache,
        outputs=lambda n, i: {"primaryEndpointAddress": f"master.{n}.abcdef.cache.amazonaws.com"},
    ),
    "aws:elasticache/parameterGroup:ParameterGroup": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    # Buckets
    "aws:s3/bucket:Bucket": ResourceProfile(
        kind="bucket",
        create_seconds=3.0,
        price=fixed(0.0, "usage: 0.023/GB-month + requests"),
        outputs=lambda n, i: {"bucket": f"{i.get('bucketPrefix', n + '-')}20261122000000000000000001"},
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketLogging:BucketLogging": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketPolicy:BucketPolicy": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_BUCKET, outputs=no_outputs
    ),
    "aws:s3/bucketV2:BucketV2": planned("bucket"),
    "aws:s3/bucketAcl:BucketAcl": planned("supporting"),
    "aws:s3/bucketAclV2:BucketAclV2": planned("supporting"),
    "aws:s3/bucketObject:BucketObject": planned("storage"),
    "aws:s3/bucketObjectv2:BucketObjectv2": planned("storage"),
    "aws:s3/objectCopy:ObjectCopy": planned("storage"),
    # Compute
    LAUNCH_TEMPLATE: ResourceProfile(
        kind="vm",
        create_seconds=DEFAULT_SECONDS,
        price=Free("its VMs are priced with their auto scaling group"),
        outputs=no_outputs,
    ),
    "aws:autoscaling/group:Group": ResourceProfile(
        kind="supporting",
        create_seconds=420.0,  # GPU VM boot, image pulls and ELB health checks
        price=asg,
        outputs=no_outputs,
    ),
    "aws:ec2/instance:Instance": planned("vm"),
    "aws:ebs/volume:Volume": ResourceProfile(
        kind="storage",
        create_seconds=DEFAULT_SECONDS * 2,
        price=ebs_volume,
        outputs=lambda n, i: {"arn": f"arn:aws:ec2:us-east-1:{MOCK_ACCOUNT}:volume/vol-{digest(n, 17)}"},
    ),
    # Backups of the state volumes (AWS Backup)
    "aws:backup/vault:Vault": ResourceProfile(
        kind="storage",
        create_seconds=DEFAULT_SECONDS,
        price=fixed(0.0, "usage: 0.05/GB-month of EBS snapshots kept"),
        outputs=no_outputs,
    ),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:backup/plan:Plan": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:backup/selection:Selection": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    # Edge: load balancer, WAF, certificates and DNS
    "aws:lb/loadBalancer:LoadBalancer": ResourceProfile(
        kind="load-balancer",
        create_seconds=150.0,
        price=fixed(0.0225 * HOURS_PER_MONTH, "0.0225/h + LCUs (usage)"),
        outputs=lambda n, i: {"dnsName": f"{n}-123456.elb.amazonaws.com", "zoneId": "Z35SXDOTRQ7X7K"},
    ),
    "aws:lb/listener:Listener": ResourceProfile(
        kind="listener", create_seconds=DEFAULT_SECONDS, price=PART_OF_LOAD_BALANCER, outputs=no_outputs
    ),
    "aws:lb/listenerRule:ListenerRule": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_LOAD_BALANCER, outputs=no_outputs
    ),
    "aws:lb/targetGroup:TargetGroup": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=PART_OF_LOAD_BALANCER, outputs=no_outputs
    ),
    "aws:wafv2/webAcl:WebAcl": ResourceProfile(
        kind="firewall", create_seconds=DEFAULT_SECONDS, price=waf, outputs=no_outputs
    ),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ResourceProfile(
        kind="supporting",
        create_seconds=30.0,
        price=Free("included in its web ACL's price"),
        outputs=no_outputs,
    ),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": ResourceProfile(
        kind="supporting",
        create_seconds=DEFAULT_SECONDS,
        price=Free("a setting of its web ACL; the logs are priced as log ingestion (usage)"),
        outputs=no_outputs,
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ResourceProfile(
        kind="supporting", create_seconds=DEFAULT_SECONDS, price=NO_CHARGE, outputs=no_outputs
    ),
    "aws:acm/certificate:Certificate": ResourceProfile(
        kind="certificate",
        create_seconds=DEFAULT_SECONDS,
        price=Free("public ACM certificates are free"),
        outputs=_acm_certificate,
    ),
    "aws:acm/certificateValidation:CertificateValidation": ResourceProfile(
        kind="supporting",
        create_seconds=300.0,
        price=Free("waits for its certificate's validation: nothing is billed"),
        outputs=lambda n, i: {"certificateArn": i.get("certificateArn")},
    ),
    "aws:route53/record:Record": ResourceProfile(
        kind="supporting",
        create_seconds=45.0,
        price=Free("a record in the team's existing hosted zone: queries are usage"),
        outputs=lambda n, i: {"fqdn": str(i.get("name", n)).rstrip(".")},
    ),
    # Kubernetes: EKS control plane, managed nodes, add-ons and pod identities
    "aws:eks/cluster:Cluster": ResourceProfile(
        kind="cluster",
        create_seconds=600.0,  # the control plane: about ten minutes
        price=fixed(0.10 * HOURS_PER_MONTH, "0.10/h control plane (standard support; 0.60/h in extended support)"),
        outputs=_eks_cluster,
    ),
    "aws:eks/nodeGroup:NodeGroup": ResourceProfile(
        kind="node-pool",
        create_seconds=240.0,  # nodes boot and join the cluster
        price=eks_node_group,
        outputs=_eks_node_group,
    ),
    "aws:eks/addon:Addon": ResourceProfile(
        kind="supporting",
        create_seconds=60.0,
        price=Free("runs on the cluster's nodes, which are priced"),
        outputs=lambda n, i: {"addonVersion": i.get("addonVersion") or "v1.0.0-eksbuild.1"},
    ),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ResourceProfile(
        kind="supporting",  # binds a service account to a role; the role's policies are judged as aws:iam resources
        create_seconds=DEFAULT_SECONDS,
        price=NO_CHARGE,
        outputs=lambda n, i: {"associationId": f"a-{digest(n, 17)}", "associationArn": f"arn:aws:eks:::{n}"},
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ResourceProfile(
        kind="supporting",  # the cluster's OIDC issuer for IRSA; the roles that trust it are judged as aws:iam roles
        create_seconds=2.0,
        price=NO_CHARGE,
        outputs=no_outputs,
    ),
}

INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": MOCK_ACCOUNT,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/ci",
        "userId": "AIDAEXAMPLE",
        "id": MOCK_ACCOUNT,
    },
    "aws:index/getPartition:getPartition": lambda a: {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    "aws:index/getRegion:getRegion": lambda a: {"name": "eu-west-2", "region": "eu-west-2", "id": "eu-west-2"},
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
        "names": ["eu-west-2a", "eu-west-2b", "eu-west-2c"],
        "zoneIds": ["euw2-az2", "euw2-az3", "euw2-az1"],
        "id": "eu-west-2",
    },
    "aws:ec2/getAmi:getAmi": lambda a: {
        "id": "ami-0123456789abcdef0",
        "name": "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20261101",
        "architecture": "x86_64",
        "ownerId": "898082745236",
    },
    "aws:elb/getServiceAccount:getServiceAccount": lambda a: {
        "arn": "arn:aws:iam::652711504416:root",
        "id": "652711504416",
    },
}

PROVIDER = Provider(name="aws", resources=RESOURCES, invokes=INVOKES, common_outputs=arn)
