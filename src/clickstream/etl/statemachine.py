"""The task manifest and the state machine definition, as the local runtime and the tests use them.

Terraform fills the ASL's `${...}` placeholders with `templatefile`; `render` does the same
here, and refuses to leave any placeholder unfilled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import tasks

MANIFEST_PATH = Path(tasks.__file__).resolve().parent / "manifest.json"
ROOT = MANIFEST_PATH.parent.parent
_PLACEHOLDER = re.compile(r"\$\{([a-z0-9_]+)\}")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    handler: str
    trigger: str
    timeout_s: int
    memory_mb: int
    in_vpc: bool
    env: tuple[str, ...]
    permissions: tuple[str, ...]
    state: str | None = None

    @property
    def placeholder(self) -> str:
        return f"{self.name}_function_arn"


@dataclass(frozen=True)
class Manifest:
    tasks: tuple[TaskSpec, ...]
    state_machine: dict[str, Any]

    @property
    def etl_tasks(self) -> tuple[TaskSpec, ...]:
        return tuple(t for t in self.tasks if t.trigger == "state_machine")

    @property
    def definition_path(self) -> Path:
        return ROOT / self.state_machine["definition"]

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.tasks if t.name == name)


@cache
def load_manifest() -> Manifest:
    data = json.loads(MANIFEST_PATH.read_text())
    specs = tuple(
        TaskSpec(
            name=t["name"], handler=t["handler"], trigger=t["trigger"], timeout_s=t["timeout_s"],
            memory_mb=t["memory_mb"], in_vpc=t["in_vpc"], env=tuple(t["env"]), permissions=tuple(t["permissions"]),
            state=t.get("state"),
        )
        for t in data["tasks"]
    )
    return Manifest(tasks=specs, state_machine=data["state_machine"])


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render(template: str, values: dict[str, str]) -> str:
    """Fill `${name}` placeholders like Terraform's templatefile; every one must have a value."""
    missing = placeholders(template) - set(values)
    if missing:
        raise ValueError(f"no value for state machine placeholders {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def definition_values(function_arns: dict[str, str], alerts_topic_arn: str) -> dict[str, str]:
    """The templatefile variables: `<task>_function_arn` for every ETL task, and the alert topic."""
    manifest = load_manifest()
    values = {spec.placeholder: function_arns[spec.name] for spec in manifest.etl_tasks}
    values["alerts_topic_arn"] = alerts_topic_arn
    return values
