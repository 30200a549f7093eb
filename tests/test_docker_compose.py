"""docker-compose.yaml is written for users (no Docker engine runs here): check what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker")


def test_services_and_metadata_on_postgres():
    services = _compose()["services"]
    assert {"postgres", "redis", "mailpit", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:${POSTGRES_PASSWORD")
        assert env["AIRFLOW_CONN_NPS_WAREHOUSE"].startswith("postgresql://")
        assert env["AIRFLOW_CONN_NPS_SMTP"] == "smtp://mailpit:1025"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
        # Every Airflow 3 process shares these (apache/airflow #48061, #49931).
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
            assert env[key].startswith("${"), key
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "NPS_EMBEDDED" not in env  # fail closed: a missing connection fails the task
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["deploy"]["replicas"] == 2
    assert "airflow-pools.sh" in " ".join(services["airflow-init"]["command"])


def test_the_image_bakes_the_code_and_leaves_the_tests_out():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r /opt/nps/requirements.txt" in dockerfile and "requirements-dev" not in dockerfile
    assert "COPY --chown=airflow:root dags /opt/airflow/dags" in dockerfile
    assert "pip install --no-cache-dir --no-deps /opt/nps/src" in dockerfile
    for copied in ("plugins/nps", "include", "dags", "scripts/airflow-pools.sh"):
        assert (ROOT / copied).exists(), copied
    runtime = (ROOT / "requirements.txt").read_text()
    for dev_only in ("pytest", "ruff", "playwright", "apache-airflow-client"):
        assert f"\n{dev_only}==" not in runtime, dev_only
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    services = _compose()["services"]
    assert services["airflow-scheduler"]["volumes"] == ["./data:/opt/airflow/project/data"]  # code from the image


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
