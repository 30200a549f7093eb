"""docker-compose.yaml is written for users (no Docker engine runs here): check what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_services_and_metadata_on_postgres():
    services = _compose()["services"]
    assert {"postgres", "mailpit", "airflow-init", "airflow-apiserver", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer"} <= set(services)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:${POSTGRES_PASSWORD")
        assert env["AIRFLOW_CONN_NPS_WAREHOUSE"].startswith("postgresql://")
        assert env["AIRFLOW_CONN_NPS_SMTP"] == "smtp://mailpit:1025"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_mounts_exist_in_the_repository():
    services = _compose()["services"]
    for volume in services["airflow-scheduler"]["volumes"] + services["postgres"]["volumes"]:
        host = volume.split(":")[0]
        if host.startswith("./") and host != "./data":
            assert (ROOT / host).exists(), f"{host} is mounted but missing"


def test_no_secret_literals():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    for key in ("PASSWORD", "FERNET_KEY", "JWT_SECRET", "TOKEN_SECRET"):
        for m in re.finditer(rf"^\s*\w*{key}\w*:\s*(\S+)", text, re.MULTILINE):
            assert m.group(1).startswith(("${", "'{", '"')), f"{m.group(0)} must come from .env"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_image_matches_pinned_airflow():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"apache/airflow:{pins['apache-airflow']}-python3.11" in dockerfile


def test_survey_web_service_needs_only_the_secret_and_the_landing_folder():
    services = _compose()["services"]
    web = services["survey-web"]
    assert web["command"][:3] == ["python", "-m", "nps.web"]
    env = web["environment"]
    assert set(env) == {"NPS_TOKEN_SECRET", "NPS_LANDING_URI", "PYTHONPATH"}  # no warehouse, no Airflow
    assert env["NPS_TOKEN_SECRET"].startswith("${NPS_TOKEN_SECRET")
    assert env["NPS_LANDING_URI"] == services["airflow-scheduler"]["environment"]["NPS_LANDING_URI"]
    assert "./data:/opt/airflow/project/data" in web["volumes"]
    assert web["ports"] == ["127.0.0.1:8090:8090"]  # behind a TLS proxy, never bare on the internet
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
