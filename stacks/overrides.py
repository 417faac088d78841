"""How a stack overrides a system's services and settings (``clinical-platform:overrides.<system>``).

Shared by ``stacks/config.py`` (which validates the stack file) and
``stacks/registry.py`` (which applies them to a system's spec), so neither
imports the other's models.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from components.specs import check_image_ref


class _Override(BaseModel):
    """camelCase keys as in the stack file, typos rejected."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class GpuOverride(_Override):
    """A GPU request replacing a service's default."""

    model: str | None = Field(None, description="GPU model (e.g. t4, l4, a10g); any model with enough memory if unset.")
    count: int = Field(1, ge=1, le=16, description="GPUs the service gets.")
    min_vram_gb: int = Field(16, ge=1, le=192, description="Memory each GPU must have, in GB.")


class ServiceOverride(_Override):
    """Per-service settings a stack may change."""

    image: str | None = Field(None, description="Image pinned to a tag or digest.")
    replicas: int | None = Field(None, ge=0, le=64, description="Copies of the service; 0 turns it off.")
    cpus: float | None = Field(None, gt=0, le=192, description="CPU limit (cores).")
    memory_mb: int | None = Field(None, ge=64, le=2_097_152, description="Memory limit (MiB).")
    gpu: bool | GpuOverride | None = Field(None, description="true: the default GPU request; false: CPU only.")

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        return None if value is None else check_image_ref(value)


class SystemOverride(_Override):
    """Per-system settings: service overrides and system-specific settings."""

    services: dict[str, ServiceOverride] = Field(default_factory=dict, description="Overrides by service name.")
    settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="The system's own settings (its `Settings` model validates them)."
    )
