"""The name a worker gives the task instances it runs (Airflow's ``[core] hostname_callable``).

Several Celery workers on one machine share its hostname, so the UI and the REST API could not
tell which worker ran a task. ``make celery-up`` starts each worker with ``NPS_WORKER_HOSTNAME``
(``nps-worker-1``, ``nps-worker-2``) and ``AIRFLOW__CORE__HOSTNAME_CALLABLE=nps.workers.hostname``;
without the variable this is Airflow's default, the machine's fully qualified name.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """``NPS_WORKER_HOSTNAME`` when set, else the fully qualified domain name."""
    return os.environ.get("NPS_WORKER_HOSTNAME") or socket.getfqdn()
