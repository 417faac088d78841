"""How many containers of each service a VM runs, so a system's ``replicas`` hold on VM clouds too."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from components.specs import ServiceSpec


def copies_per_vm(svc: ServiceSpec, vms: int) -> int:
    """Containers of ``svc`` on each of the ``vms`` VMs that run it: its replicas spread over them, rounded up,
    at least one (every VM of a group runs every service of the group); a job runs once."""
    if svc.kind == "job":
        return 1
    return max(1, -(-svc.replicas // max(vms, 1)))


def vm_layout(
    services: Sequence[ServiceSpec], scale_out: Collection[str], vms: int, *, has_state: bool
) -> dict[str, dict[str, int]]:
    """Containers per VM of each service, by the role of the VM group (``all``, ``state``, ``scale-out``).

    Without state, ``vms`` identical VMs share every service. With state,
    one state VM runs every service; those in ``scale_out`` (no state, none
    needed) also run on ``vms - 1`` scale-out VMs (only when one of them
    asks for several copies),
    so their replicas spread over ``vms`` VMs, while every copy of the rest
    (the services writing state, and what shares their data) runs on the
    state VM: copies on one host share its disk as a Docker host's copies do.
    The ``scale-out`` key is present only when that group runs.
    """
    if not has_state:
        return {"all": {s.name: copies_per_vm(s, vms) for s in services}}
    # Scale-out VMs only for a service that asks for more than one copy: agents and exporters alone (one copy
    # each, on the state VM) are no reason for another VM.
    spread = vms > 1 and any(s.replicas > 1 and s.kind == "service" for s in services if s.name in scale_out)
    layout = {"state": {s.name: copies_per_vm(s, vms if spread and s.name in scale_out else 1) for s in services}}
    if spread:
        layout["scale-out"] = {s.name: copies_per_vm(s, vms) for s in services if s.name in scale_out}
    return layout
