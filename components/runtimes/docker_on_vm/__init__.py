"""Runtime ``docker`` on cloud VMs: a rendered compose project started by cloud-init and systemd, no SSH."""
