"""nps.hooks.base.lookup_connection inside a task: the Task SDK's answer (airflow.sdk.BaseHook)
is final; the deprecated ``airflow.models.Connection.get_connection_from_secrets`` is never asked."""

from __future__ import annotations

import json
import warnings

import pytest


@pytest.fixture
def in_a_task(monkeypatch):
    """The Task SDK's execution context, as Airflow detects it (its supervisor channel is set)."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)


def test_missing_connection_in_a_task_is_none_without_the_deprecated_lookup(in_a_task, monkeypatch):
    from airflow.models.connection import Connection
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from nps.hooks.base import in_task, lookup_connection

    asked = []

    def sdk_not_found(conn_id):
        asked.append(conn_id)
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    def deprecated(*args, **kwargs):
        raise AssertionError("airflow.models.Connection.get_connection_from_secrets was called inside a task")

    monkeypatch.setattr(BaseHook, "get_connection", staticmethod(sdk_not_found))
    monkeypatch.setattr(Connection, "get_connection_from_secrets", classmethod(deprecated))
    assert in_task()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert lookup_connection("nps_slack") is None
    assert asked == ["nps_slack"]


def test_outside_a_task_the_environment_is_read(monkeypatch):
    from nps.hooks.base import in_task, lookup_connection

    monkeypatch.setenv("AIRFLOW_CONN_NPS_PROBE", json.dumps({"conn_type": "generic", "host": "example.org"}))
    assert not in_task()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert lookup_connection("nps_probe").host == "example.org"
