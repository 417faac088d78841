"""Cloud ``aws``: VPC, KMS, GPU VMs running the system's containers, RDS, ElastiCache, S3 and an ALB."""
