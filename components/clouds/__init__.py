"""Where infrastructure lives: one folder per cloud (network, keys, data stores, secret store, entry point, compute)."""
