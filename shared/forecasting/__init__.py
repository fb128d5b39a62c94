"""Forecasting backends: BigQuery ML (the cloud) and statsforecast (local), one output.

``port.py`` is the interface the forecast job (``shared/service_layer/forecasting.py``) calls,
``sql.py`` renders the SQL files of ``schemas/bigquery/ml/``, ``bqml.py`` runs them on BigQuery
and ``local.py`` fits the same series with statsforecast and writes the same rows.
"""
