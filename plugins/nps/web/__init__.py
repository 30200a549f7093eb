"""The survey response page: the customer-facing ASGI app behind the invitation links.

Its own process (``python -m nps.web``, ``make survey-web``, the ``survey-web`` compose service),
never Airflow's API server. It needs the token secret and the landing folder, nothing else: no
warehouse connection, no Airflow. See ``nps.web.app`` for the routes and README "The survey
response page" for deployment.
"""
