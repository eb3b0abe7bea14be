"""Powertools Logger / Metrics / Tracer, created once for the whole bundle.

Service name, metrics namespace and log level come from the template's Globals
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL); nothing is
hard-coded here. Tracer disables itself outside Lambda, so tests and the demo need no X-Ray.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# EMF metrics for operational extras only (e.g. messages the producer sent). The scaling metrics
# are sent with PutMetricData by adapters.metrics so that their dimensions are exactly FleetName.
metrics = Metrics()
tracer = Tracer()


def use_namespace(namespace: str) -> None:
    """Point the EMF metrics at the validated namespace.

    Powertools reads POWERTOOLS_METRICS_NAMESPACE when `metrics` is created; setting it from the
    parsed settings also covers callers that import the handlers before setting the environment
    (tests, the demo) and applies the documented default.
    """
    metrics.namespace = namespace
