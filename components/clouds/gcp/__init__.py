"""Cloud ``gcp``: custom VPC, Cloud KMS, shielded GPU VMs running the system's containers, Cloud SQL, Memorystore, GCS and a global HTTPS load balancer with Cloud Armor."""
