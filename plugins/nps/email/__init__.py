"""Invitation email: rendering (``render``), the transports (``sendgrid``, ``outbox``, ``smtp``)
and how one is chosen (``transports``). Nothing here imports Airflow except
``transports.transport_from_airflow``, which reads the connections inside a task.
"""
