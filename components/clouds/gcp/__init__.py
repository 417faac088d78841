"""Cloud ``gcp``: VPC, Cloud KMS, GPU VMs running the system's containers, Cloud SQL, Memorystore, GCS and an HTTPS LB."""
