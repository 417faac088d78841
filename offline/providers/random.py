"""The random provider (pulumi-random): generated passwords and keys, computed in the engine."""

from __future__ import annotations

import base64
import hashlib

from offline.providers.profile import Free, Provider, ResourceProfile, digest

IN_THE_ENGINE = Free("computed by the provider in the engine: nothing is created or billed")

RESOURCES: dict[str, ResourceProfile] = {
    "random:index/randomPassword:RandomPassword": ResourceProfile(
        kind="secret",
        create_seconds=0.1,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {"result": digest(n, int(i.get("length", 32))), "bcryptHash": "$2a$10$" + digest(n, 53)},
    ),
    "random:index/randomBytes:RandomBytes": ResourceProfile(
        kind="secret",
        create_seconds=0.1,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {
            "base64": base64.b64encode(hashlib.sha256(n.encode()).digest()).decode(),
            "hex": digest(n, 64),
        },
    ),
}

PROVIDER = Provider(name="random", resources=RESOURCES, invokes={})
