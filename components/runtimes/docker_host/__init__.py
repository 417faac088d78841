"""Runtime ``docker`` on a single host: each system's containers, networks, data stores and the TLS proxy."""
