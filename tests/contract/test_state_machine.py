"""The ASL, the task manifest, the handlers and the settings agree with each other."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from statelint.linter import Linter

import tasks
from clickstream.errors import ConfigurationError
from clickstream.etl.statemachine import definition_values, load_manifest, placeholders, render
from clickstream.settings import EtlSettings, IngestSettings
from state_machines import build_asl

MANIFEST = load_manifest()
TEMPLATE = MANIFEST.definition_path.read_text()
FAKE_ARNS = {spec.name: f"arn:aws:lambda:us-east-1:123456789012:function:cs-{spec.name}" for spec in MANIFEST.tasks}
DEFINITION = json.loads(render(TEMPLATE, definition_values(FAKE_ARNS, "arn:aws:sns:us-east-1:123456789012:alerts")))


def _states(states: dict[str, Any], *, top: bool = True) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for name, state in states.items():
        yield name, state, top
        if state["Type"] == "Map":
            yield from _states((state.get("Iterator") or state["ItemProcessor"])["States"], top=False)
        for branch in state.get("Branches", []):
            yield from _states(branch["States"], top=False)


ALL_STATES = list(_states(DEFINITION["States"]))


def test_the_committed_asl_is_what_build_asl_writes() -> None:
    assert build_asl.render() == TEMPLATE, "run `python state_machines/build_asl.py` and commit the ASL"


def test_the_asl_passes_statelint() -> None:
    assert Linter.validate(DEFINITION) == []


def test_every_task_retries_times_out_and_is_caught() -> None:
    for name, state, top in ALL_STATES:
        if state["Type"] != "Task":
            continue
        assert state.get("TimeoutSeconds"), f"{name} has no TimeoutSeconds"
        assert state.get("Retry"), f"{name} has no Retry"
        if state["Resource"].startswith("arn:aws:lambda"):
            retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
            assert "Lambda.ServiceException" in retried and "StorageUnavailable" in retried, name
        if top:
            assert state.get("Catch"), f"{name} has no Catch"
    # Tasks inside the Map are caught by the Map itself.
    assert DEFINITION["States"]["CleanToParquet"]["Catch"]


def test_every_catch_of_the_main_path_leads_to_an_alert() -> None:
    states = DEFINITION["States"]
    for name in build_asl.MAIN_STATES:
        (rule,) = states[name]["Catch"]
        assert rule["ErrorEquals"] == ["States.ALL"]
        marker = states[rule["Next"]]
        assert marker["Result"] == name and marker["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == states["AlertUnrecorded"]["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Resource"] == "arn:aws:states:::sns:publish"
    assert states["NotifyFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"


def test_placeholders_are_exactly_the_manifest_tasks_and_the_topic() -> None:
    expected = {spec.placeholder for spec in MANIFEST.etl_tasks} | {"alerts_topic_arn"}
    assert placeholders(TEMPLATE) == expected


def test_each_manifest_state_runs_its_task() -> None:
    by_name = {name: state for name, state, _ in ALL_STATES}
    for spec in MANIFEST.etl_tasks:
        state = by_name[spec.state]
        if state["Type"] == "Map":  # the Map runs the task in its iterator
            state = state["Iterator"]["States"][state["Iterator"]["StartAt"]]
        assert state["Resource"] == FAKE_ARNS[spec.name], spec.name


def test_every_manifest_task_has_a_handler_and_every_handler_is_in_the_manifest() -> None:
    for spec in MANIFEST.tasks:
        module_name, _, attribute = spec.handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module_name), attribute)), spec.handler
    modules = {f"tasks.{m.name}" for m in pkgutil.iter_modules(tasks.__path__)}
    assert modules == {spec.handler.rpartition(".")[0] for spec in MANIFEST.tasks}


# Which settings object each task reads at start (resolve_window reads none).
SETTINGS = {"ingest": IngestSettings, "resolve_window": None}


@pytest.mark.parametrize("spec", MANIFEST.tasks, ids=lambda s: s.name)
def test_the_manifest_env_of_each_task_satisfies_its_settings(spec: Any) -> None:
    settings_class = SETTINGS.get(spec.name, EtlSettings)
    if settings_class is None:
        assert spec.env == ()
        return
    env = {name: "https://example.test/value" for name in spec.env} | {"AUTH_CLIENT_IDS": "c", "AUTH_TOKEN_USE": "access"}
    settings_class.from_env(env)  # everything the task needs is in the manifest
    with pytest.raises(ConfigurationError, match=spec.env[0]):  # and a missing one is named at start
        settings_class.from_env({k: v for k, v in env.items() if k != spec.env[0]})
