# The project's Airflow image for docker-compose (and a starting point for Kubernetes):
# the official Airflow image with this project's pinned packages.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/nps/
RUN pip install --no-cache-dir -r /opt/nps/requirements.txt -c /opt/nps/constraints.txt
