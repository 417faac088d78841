"""Cloud ``onprem``: a hospital's own Docker host; certificates from a local CA or the hospital's PKI."""
