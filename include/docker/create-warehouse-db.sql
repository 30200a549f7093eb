-- docker-compose: the warehouse database beside Airflow's own, on the same PostgreSQL server.
CREATE DATABASE nps_warehouse OWNER airflow;
