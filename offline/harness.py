"""Run the real ``__main__.py`` for a ``Pulumi.<stack>.yaml`` under the Pulumi mock runtime.

No Pulumi CLI, no cloud, no Docker: the mock monitor records every
registration (type, name, parent, dependencies, inputs, options) exactly as
the engine would receive it, and answers with plausible outputs so that
``apply`` callbacks run (``preview=False``, see testing-and-ci.md 1.4).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi_policy.deserialize import deserialize_properties as policy_deserialize

from offline.providers import INVOKES, outputs_for

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "clinical-platform"
SECRET_PLACEHOLDER = "offline-plan-secret-placeholder"


class StackFileError(Exception):
    """The stack file is missing or is not valid YAML."""


@dataclass
class Captured:
    """One resource registration as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    raw: Any
    additional_secret_outputs: list[str]
    ignore_changes: list[str]
    delete_before_replace: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    # Earlier identities of the resource (pulumi aliases): URNs, or specs with name and parent URN.
    aliases: list[Any] = field(default_factory=list)


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    stack: str
    resources: list[Captured]
    exports: dict[str, Any]
    config: dict[str, Any]
    secret_keys: set[str]
    invoked: list[str] = field(default_factory=list)  # the invoke tokens the program called


def load_stack_file(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], set[str]]:
    """Config of ``Pulumi.<stack>.yaml`` as the language host passes it: JSON strings for objects.

    ``secure:`` values cannot be decrypted without the Pulumi CLI, so they
    become a placeholder and their key is marked secret, as the engine would.
    """
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        shipped = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise StackFileError(f"no stack file {path.name}; shipped stacks: {', '.join(shipped)}")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name} is not valid YAML: {exc}") from None
    values = document.get("config") or {}
    if not isinstance(values, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping of keys to values")
    config: dict[str, Any] = {}
    secret_keys: set[str] = set()

    def reveal(value: Any, key: str) -> Any:
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(key)
            return SECRET_PLACEHOLDER
        if isinstance(value, dict):
            return {k: reveal(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [reveal(v, key) for v in value]
        return value

    for key, value in values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        plain = reveal(value, full)
        # The CLI hands every value over as a string: JSON for objects and lists, and an unquoted YAML
        # date in Go's time format ("2027-06-30 00:00:00 +0000 UTC"), which the program must accept.
        if isinstance(plain, dict | list):
            config[full] = json.dumps(plain, default=go_time)
        elif isinstance(plain, datetime.date):
            config[full] = go_time(plain)
        elif isinstance(plain, bool):
            config[full] = "true" if plain else "false"
        else:
            config[full] = str(plain)
    return config, secret_keys


def go_time(value: Any) -> str:
    """A YAML date or timestamp as the Pulumi CLI (Go's ``time.Time.String``) passes it to the program."""
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    if isinstance(value, datetime.date):
        return f"{value.isoformat()} 00:00:00 +0000 UTC"
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class PlatformMocks(Mocks):
    """Answers registrations with plausible outputs and invokes with fixed, realistic data."""

    def __init__(
        self, invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None, preview: bool = False
    ) -> None:
        self.invokes = dict(invokes or {})
        self.preview = preview
        self.invoked: list[str] = []  # every invoke token called, first call first

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.preview:  # as in `pulumi preview`: nothing the provider computes is known yet
            return None, dict(args.inputs)
        state = {**args.inputs, **outputs_for(args.typ, args.name, args.inputs)}
        state.setdefault("name", args.name)
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token not in self.invoked:
            self.invoked.append(args.token)
        handler = self.invokes.get(args.token)
        if handler is None:
            raise NotImplementedError(f"the offline plan does not answer invoke {args.token}")
        return handler(dict(args.args)), []


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration with its parent, dependencies and options."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[Captured] = []
        self.by_urn: dict[str, Captured] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        record = Captured(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent=request.parent,
            custom=request.custom,
            protect=request.protect,
            dependencies=list(request.dependencies),
            # As the policy engine sees them: secrets unwrapped, camelCase keys.
            inputs=policy_deserialize(json_format.MessageToDict(request.object)),
            raw=request.object,
            additional_secret_outputs=list(request.additionalSecretOutputs),
            ignore_changes=list(request.ignoreChanges),
            delete_before_replace=request.deleteBeforeReplace,
            aliases=[*request.aliasURNs, *(json_format.MessageToDict(a) for a in request.aliases)],
        )
        self.captured.append(record)
        self.by_urn[record.urn] = record
        return response


def run_program(
    stack: str,
    *,
    config: dict[str, Any] | None = None,
    secret_keys: set[str] | None = None,
    program: Path = ROOT / "__main__.py",
    invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run the program for ``stack``. A ``ConfigError`` propagates before anything is registered.

    ``config``/``secret_keys`` default to the stack file's; tests pass their own.
    """
    if config is None:
        config, file_secrets = load_stack_file(stack)
        secret_keys = file_secrets if secret_keys is None else secret_keys
    return run_under_mocks(
        lambda: runpy.run_path(str(program), run_name="__main__"),
        stack=stack,
        config=config,
        secret_keys=secret_keys or set(),
        invokes=invokes,
        preview=preview,
    )


def run_under_mocks(
    body: Callable[[], Any],
    *,
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    secret_keys: set[str] | None = None,
    invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run ``body`` (a program, or a test that builds components) and capture what it registers.

    ``preview=True`` leaves every provider-computed output unknown, as ``pulumi preview`` does.
    """
    config = dict(config or {})
    secret_keys = set(secret_keys or ())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.ROOT.set(None)  # a fresh root stack per run (the ContextVar survives set_mocks)
        runtime_config.set_all_config(config, sorted(secret_keys))
        mocks = PlatformMocks(invokes or INVOKES, preview=preview)
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(
            mocks,
            project=PROJECT,
            stack=stack,
            preview=preview,
            monitor=monitor,
            logger=logging.getLogger("offline-plan"),
        )
        exports: dict[str, Any] = {}

        def program_body() -> pulumi.Output[Any]:
            body()
            root = settings.get_root_resource()
            outputs = dict(getattr(root, "outputs", {}) or {})
            return pulumi.Output.all(**outputs).apply(exports.update) if outputs else pulumi.Output.from_input(None)

        pulumi.runtime.test(program_body)()
        for record in monitor.captured:
            registered = monitor.resources.get(record.urn)
            record.outputs = dict(registered.state) if registered is not None else {}
        return ProgramRun(stack, monitor.captured, exports, config, secret_keys, mocks.invoked)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
