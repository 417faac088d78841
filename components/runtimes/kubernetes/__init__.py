"""The ``kubernetes`` runtime: each system in its own namespace of a cluster the cloud provides."""
