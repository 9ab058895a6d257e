"""The one place that talks to MLflow: `store` (where and how to connect), `runs` (run lifecycle,
which run an evaluation joins, batched step metrics) and `models` (the generator as an MLflow model)."""

from sketch2face.tracking.models import (
    MODEL_NAME,
    generator_signature,
    load_generator_model,
    log_generator,
    logged_model_origin,
)
from sketch2face.tracking.runs import (
    DATA_VERSION_TAG,
    EVALUATED_TAG,
    PARENT_RUN_TAG,
    TRAINING_RUN_TAG,
    Tracker,
    evaluation_metrics,
    read_run_reference,
    write_run_reference,
)
from sketch2face.tracking.store import EXPERIMENT_NAME, STORE_FILE, flatten, project_root, run_name, tracking_uri

__all__ = [
    "DATA_VERSION_TAG",
    "EVALUATED_TAG",
    "EXPERIMENT_NAME",
    "MODEL_NAME",
    "PARENT_RUN_TAG",
    "STORE_FILE",
    "TRAINING_RUN_TAG",
    "Tracker",
    "evaluation_metrics",
    "flatten",
    "generator_signature",
    "load_generator_model",
    "log_generator",
    "logged_model_origin",
    "project_root",
    "read_run_reference",
    "run_name",
    "tracking_uri",
    "write_run_reference",
]
