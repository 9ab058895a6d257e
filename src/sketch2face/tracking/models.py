"""The generator as an MLflow model: logged (and registered) at the end of training, loaded by URI.

The model takes uint8 sketches (N, C, S, S) and returns uint8 photos (N, 3, S, S) for any N: it
is pickled (`serialization_format="pickle"`) because MLflow 3's default "pt2" format traces the
graph with `torch.export` and fixes the batch size of the input example. The sketch2face package
travels with it (`code_paths`), so it loads where sketch2face is not installed.

A generator trained with appearance hints takes them as optional inference params of its
signature (`params={"skin": ["#8d5524"], "hair": ["black", "auto"]}`: one colour for every
sketch or one per sketch, default `auto`). Params, because a model input tensor cannot be
optional in an MLflow signature, and the PyTorch flavour hands params to the module's forward as
keyword arguments: the logged model stays a plain PyTorch model for `mlflow.pytorch.load_model`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from sketch2face.tracking.runs import Tracker
from sketch2face.tracking.store import existing_store

if TYPE_CHECKING:
    import torch

    from sketch2face.config import TrackingParams
    from sketch2face.models.sketch_to_photo import SketchToPhoto

MODEL_NAME = "generator"
PICKLE_FORMAT = "pickle"
# what loading the pickled generator imports (sketch2face itself travels with the model)
MODEL_REQUIREMENTS = ("torch", "cloudpickle", "numpy", "pydantic", "ruamel.yaml")


def log_generator(tracker: Tracker, model: SketchToPhoto, settings: TrackingParams) -> str | None:
    """Logs the generator into the tracker's run as an MLflow model (and registers it when asked); its URI.

    Once per run: a rerun of a finished training reuses the model its run holds, and only
    registers it where it is not registered yet (under a newly set `register_name`).
    """
    if not settings.log_model:
        return None
    return tracker.guarded("log_model", _log_generator, model, settings, tracker.run_id if tracker.reopened else None)


def generator_signature(model: SketchToPhoto):
    """uint8 sketches (-1, C, S, S) -> uint8 photos (-1, C_out, S, S): -1 lets any batch size through.

    Each hint the generator takes is an optional param: a list of colour texts, default `["auto"]`.
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import DataType, ParamSchema, ParamSpec, Schema, TensorSpec

    from sketch2face.colour import AUTO

    config = model.config
    pixels = np.dtype(np.uint8)
    sketches = TensorSpec(pixels, (-1, config.input_channels, config.image_size, config.image_size))
    photos = TensorSpec(pixels, (-1, config.output_channels, config.image_size, config.image_size))
    hints = [ParamSpec(name, DataType.string, [AUTO], (-1,)) for name in config.hints]
    params = ParamSchema(hints) if hints else None
    return ModelSignature(inputs=Schema([sketches]), outputs=Schema([photos]), params=params)


def _log_generator(model: SketchToPhoto, settings: TrackingParams, reopened_run_id: str | None) -> str:
    """Logs and registers the generator; in a reopened run, reuses what that run already holds."""
    import mlflow

    logged = _logged_generator_uri(mlflow, reopened_run_id, model.preprocessing) if reopened_run_id else None
    model_uri = logged or _new_generator_model(mlflow, model)
    if settings.register_name is not None:
        client = mlflow.MlflowClient()
        registered = []
        if logged:
            versions = client.search_model_versions(
                f"name = '{settings.register_name}' AND run_id = '{reopened_run_id}'"
            )
            registered = [version for version in versions if version.source == logged]
        version = registered[0] if registered else mlflow.register_model(model_uri, settings.register_name)
        if settings.alias is not None:
            client.set_registered_model_alias(settings.register_name, settings.alias, version.version)
    return model_uri


def _logged_generator_uri(mlflow, run_id: str, preprocessing: dict) -> str | None:
    """The URI of the generator model this (active) run already holds with this preprocessing, if any.

    The same weights run another way (`evaluate.inference` changed since) are a model of their own.
    """
    from mlflow.entities import LoggedModelStatus

    found = mlflow.search_logged_models(
        experiment_ids=[mlflow.active_run().info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'",
        output_format="list",
    )
    ready = (logged.model_uri for logged in found if logged.status == LoggedModelStatus.READY)
    return next(
        (uri for uri in ready if mlflow.models.get_model_info(uri).metadata["preprocessing"] == preprocessing), None
    )


def _new_generator_model(mlflow, model: SketchToPhoto) -> str:
    from importlib.metadata import version

    import numpy as np

    import sketch2face

    config = model.config
    blank_paper = np.full((1, config.input_channels, config.image_size, config.image_size), 255, np.uint8)
    info = mlflow.pytorch.log_model(
        model,
        name=MODEL_NAME,
        serialization_format=PICKLE_FORMAT,
        signature=generator_signature(model),
        input_example=blank_paper,
        # the package travels with the model, so it loads where sketch2face is not installed
        code_paths=[str(Path(sketch2face.__file__).parent)],
        # given here: MLflow would otherwise load the model in a subprocess to infer them
        pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
        metadata={"preprocessing": model.preprocessing, "generator_config": asdict(config)},
    )
    return info.model_uri


def load_generator_model(uri: str, device: str | torch.device = "cpu") -> SketchToPhoto:
    """Loads a generator logged by `log_generator` (`models:/NAME@ALIAS`, `runs:/...`, ...)."""
    return existing_store().pytorch.load_model(uri, map_location=device)


def logged_model_origin(uri: str) -> tuple[str | None, str | None]:
    """The run that logged a model (`models:/NAME@ALIAS`, `runs:/...`, ...) and when it was logged (UTC)."""
    info = existing_store().models.get_model_info(uri)
    return info.run_id, info.utc_time_created
