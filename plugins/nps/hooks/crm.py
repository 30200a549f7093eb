"""The CRM webhook connection (``nps_crm_webhook``): where case events are POSTed and the secret
that signs them (``nps.followups.crm``)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from nps.hooks.base import ConnectionMissingError, extras, lookup_connection

CRM_WEBHOOK_CONN_ID = "nps_crm_webhook"


class CrmWebhookHook(BaseHook):
    """An HTTP connection: host = the full URL (``https://crm.example.com/hooks/nps``) or host with
    schema, port and extra ``endpoint``; password = the HMAC secret; extra ``timeout``."""

    conn_name_attr = "conn_id"
    default_conn_name = CRM_WEBHOOK_CONN_ID
    conn_type = "http"
    hook_name = "NPS CRM webhook"

    def __init__(self, conn_id: str = CRM_WEBHOOK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def __repr__(self) -> str:
        return f"CrmWebhookHook(conn_id={self.conn_id!r})"

    def get_conn(self, *, timeout: float = 10.0, max_retries: int = 5):
        from nps.followups.crm import CrmWebhookClient

        conn = lookup_connection(self.conn_id)
        if conn is None:
            raise ConnectionMissingError(
                f"connection {self.conn_id!r} not found: add an HTTP connection with the CRM's webhook URL in host "
                f"and the signing secret in password (or set followups.crm_webhook.enabled: false)")
        ex = extras(conn)
        host = (conn.host or "").strip()
        if host.startswith(("https://", "http://")):
            url = host
        else:
            scheme = conn.schema if conn.schema in ("http", "https") else "https"
            url = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        url += str(ex.get("endpoint") or "")
        return CrmWebhookClient(url, conn.password or "", timeout=float(ex.get("timeout") or timeout),
                                max_retries=max_retries)
