"""The review's note on state per system: which services are single writers, and where state writers run."""

from __future__ import annotations

from stacks import registry
from stacks.config import StackConfig


def state_notes(config: StackConfig) -> list[str]:
    """One line per system with state: its exclusive single writers (one copy on every runtime) and, on a VM
    cloud, the services whose copies all run on the VM holding the state disk, with the volumes that pin them."""
    on_vms = config.runtime == "docker" and config.cloud in ("aws", "gcp")
    notes = []
    for name in config.systems:
        spec = registry.build(name, config)
        writers = spec.state_writers()
        if not writers:
            continue
        single = [f"{s.name} ({', '.join(v.name for v in s.volumes if v.exclusive)})" for s in spec.single_writers()]
        parts = [f"single writers, one copy (exclusive data): {', '.join(single)}" if single else "no single writer"]
        if on_vms:
            shared = [
                f"{s.name} x{s.replicas} ({', '.join(v.name for v in s.volumes if v.state)})"
                for s in writers
                if not s.single_writer
            ]
            where = f"; every copy of {', '.join(shared)} also runs there" if shared else ""
            parts.append(
                "on the state VM beside the state disk, backed up daily: "
                f"{', '.join(s.name for s in writers)}{where}; the VM is one in one zone (a replaced VM comes back "
                "with the same disk)"
            )
        notes.append(f"{name}: {'; '.join(parts)}")
    return notes
