"""The connection types and their form fields, as Airflow's provider manager (and so the UI's
connection form, GET /ui/connections/hook_meta) sees them from the installed package."""

from __future__ import annotations

import pytest

import nps


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_package_listed_with_its_version(providers):
    info = providers.providers["nps-program"]
    assert info.version == nps.__version__
    assert info.data["name"] == "NPS feedback program"


def test_connection_types_in_the_ui_form(providers):
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}
    wh, sg, tok = meta["nps_warehouse"], meta["nps_sendgrid"], meta["nps_survey_token"]
    assert (wh.hook_name, sg.hook_name, tok.hook_name) == ("NPS warehouse", "SendGrid", "Survey token")
    assert wh.hook_class_name == "nps.hooks.warehouse.WarehouseHook"
    assert set(wh.extra_fields) == {"engine", "duckdb_path", "sqlalchemy_url", "embedded"}
    assert wh.extra_fields["engine"]["schema"]["enum"] == ["postgresql", "duckdb"]
    assert wh.extra_fields["engine"]["value"] == "postgresql"
    assert wh.standard_fields.url_schema.title == "Database"
    assert wh.standard_fields.host.placeholder == "warehouse.internal (PostgreSQL)"
    assert set(sg.extra_fields) == {"timeout", "sandbox_mode"}
    assert sg.extra_fields["sandbox_mode"]["schema"]["type"] == ["boolean", "null"]
    assert (sg.standard_fields.password.title, sg.standard_fields.host.title) == ("API key", "API host")
    assert sg.standard_fields.login.hidden and sg.standard_fields.port.hidden
    assert tok.extra_fields is None
    assert tok.standard_fields.password.title == "Secret(s)"
    assert all(getattr(tok.standard_fields, f).hidden for f in ("host", "login", "port", "url_schema"))


@pytest.mark.parametrize("conn_type", ["nps_warehouse", "nps_sendgrid", "nps_survey_token"])
def test_hook_classes_match_their_connection_type(conn_type):
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks[conn_type]
    assert hook is not None and hook.connection_type == conn_type and hook.package_name == "nps-program"


def test_old_style_field_behaviour_matches():
    from nps.hooks import SendGridHook, SurveyTokenHook, WarehouseHook

    assert SendGridHook.get_ui_field_behaviour() == {
        "hidden_fields": ["schema", "login", "port", "extra"],
        "relabeling": {"host": "API host", "password": "API key"},
        "placeholders": {"host": "https://api.sendgrid.com", "password": "SG.xxxxx (Mail Send permission)"},
    }
    assert WarehouseHook.get_ui_field_behaviour()["relabeling"] == {"schema": "Database"}
    assert SurveyTokenHook.get_connection_form_widgets() == {}
