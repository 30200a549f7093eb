# The project's Airflow image for docker-compose (and a starting point for Kubernetes): the official
# Airflow image with the program's pinned runtime packages (requirements.txt only: tests, tools and
# the demo stay out) and its code baked in: the nps package (a wheel with its SQL, templates and
# config) and the DAGs.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/nps/
RUN pip install --no-cache-dir -r /opt/nps/requirements.txt -c /opt/nps/constraints.txt
COPY --chown=airflow:root pyproject.toml README.md /opt/nps/src/
COPY --chown=airflow:root plugins/nps /opt/nps/src/plugins/nps
COPY --chown=airflow:root include /opt/nps/src/include
RUN pip install --no-cache-dir --no-deps /opt/nps/src && rm -rf /opt/nps/src
COPY --chown=airflow:root scripts/airflow-pools.sh /opt/nps/airflow-pools.sh
COPY --chown=airflow:root dags /opt/airflow/dags
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags
