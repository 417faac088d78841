"""GCP labels from the platform's neutral labels.

GCP label keys and values allow only lower-case letters, digits, ``_`` and
``-``, at most 63 characters, and a key must start with a letter; a resource
holds at most 64 labels. ``clinical.platform/owner: platform@hospital.example``
becomes ``owner: platform_hospital_example``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

LABEL_PREFIX = "clinical.platform/"
MAX_LENGTH = 63
MAX_LABELS = 64
_INVALID = re.compile(r"[^a-z0-9_-]+")


def _fit(text: str, original: str) -> str:
    """``text`` cut to 63 characters; a cut one ends in a hash of ``original`` so two long values stay distinct."""
    if len(text) <= MAX_LENGTH:
        return text
    return f"{text[: MAX_LENGTH - 9]}-{hashlib.sha256(original.encode()).hexdigest()[:8]}"


def label_value(value: str) -> str:
    """A valid label value: lower-cased, each run of other characters replaced by ``_``."""
    return _fit(_INVALID.sub("_", value.lower()), value)


def label_key(key: str) -> str:
    """A valid label key: the platform prefix dropped, sanitised like a value, starting with a letter."""
    if not key:
        raise ValueError("a label key cannot be empty")
    text = _INVALID.sub("_", key.removeprefix(LABEL_PREFIX).lower())
    if not text[0].isalpha():
        text = f"k{text}"  # GCP keys must start with a lower-case letter
    return _fit(text, key)


def gcp_labels(labels: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Governance labels (environment, stack, owner, data-classification, system ...) plus ``extra``.

    ``extra`` keys use ``-`` for ``_`` (``data_service="db"`` -> ``data-service``)
    and override a label of the same key, as the AWS tags do. Deterministic:
    the same labels always give the same result. Two different keys of
    ``labels`` that become the same GCP key are an error, not a silent overwrite.
    """
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    for key, value in labels.items():
        fitted = label_key(key)
        if fitted in origin:
            raise ValueError(f"labels '{origin[fitted]}' and '{key}' both become GCP label '{fitted}'")
        origin[fitted] = key
        out[fitted] = label_value(value)
    out.update({label_key(key.replace("_", "-")): label_value(value) for key, value in extra.items()})
    if len(out) > MAX_LABELS:
        raise ValueError(f"{len(out)} labels; a GCP resource holds at most {MAX_LABELS}")
    return out
