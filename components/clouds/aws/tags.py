"""AWS tags from the platform's neutral labels."""

from __future__ import annotations

from collections.abc import Mapping

LABEL_PREFIX = "clinical.platform/"


def aws_tags(labels: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Governance tags (environment, stack, owner, data-classification, system ...) plus ``extra``."""
    tags = {key.removeprefix(LABEL_PREFIX): value for key, value in labels.items()}
    tags.update({key.replace("_", "-"): value for key, value in extra.items()})
    return tags
