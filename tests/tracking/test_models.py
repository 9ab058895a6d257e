import warnings

import mlflow
import numpy as np
import pytest
import torch
from conftest import (
    REGISTERED_ALIAS,
    REGISTERED_NAME,
    TINY_PREPROCESSING,
    TINY_SIZE,
    point_mlflow_at_an_unreachable_store,
)

from sketch2face.config import TrackingParams
from sketch2face.inference import load_sketch_to_photo
from sketch2face.tracking import EXPERIMENT_NAME, Tracker, load_generator_model, log_generator


def _sketches(count: int) -> np.ndarray:
    return np.random.default_rng(count).integers(0, 256, (count, 1, TINY_SIZE, TINY_SIZE), dtype=np.uint8)


@pytest.mark.parametrize("batch", [1, 3])
def test_pyfunc_takes_any_batch_of_uint8_sketches(logged_generator, tiny_generator_file, batch):
    pyfunc = mlflow.pyfunc.load_model(logged_generator.model_uri)
    sketches = _sketches(batch)
    photos = pyfunc.predict(sketches)
    expected = load_sketch_to_photo(tiny_generator_file)(torch.from_numpy(sketches)).numpy()
    assert photos.dtype == np.uint8 and photos.shape == (batch, 3, TINY_SIZE, TINY_SIZE)
    np.testing.assert_array_equal(photos, expected)


def test_signature_has_a_free_batch_dimension_and_the_model_its_preprocessing(logged_generator):
    info = mlflow.models.get_model_info(logged_generator.model_uri)
    inputs, outputs = info.signature.inputs.inputs[0], info.signature.outputs.inputs[0]
    assert (inputs.type, inputs.shape) == (np.dtype(np.uint8), (-1, 1, TINY_SIZE, TINY_SIZE))
    assert (outputs.type, outputs.shape) == (np.dtype(np.uint8), (-1, 3, TINY_SIZE, TINY_SIZE))
    assert info.metadata["preprocessing"] == TINY_PREPROCESSING
    assert info.saved_input_example_info is not None
    experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME).experiment_id
    assert len(mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")) == 1


def test_pytorch_flavour_round_trip_through_the_registry_alias(logged_generator, tiny_generator_file):
    version = mlflow.MlflowClient().get_model_version_by_alias(REGISTERED_NAME, REGISTERED_ALIAS)
    assert int(version.version) == 1
    loaded = load_generator_model(logged_generator.registered_uri)
    original = load_sketch_to_photo(tiny_generator_file)
    sketches = torch.from_numpy(_sketches(2))
    assert loaded.preprocessing == TINY_PREPROCESSING and not loaded.training
    assert torch.equal(loaded(sketches), original(sketches))
    assert torch.equal(mlflow.pytorch.load_model(logged_generator.model_uri)(sketches), original(sketches))


def test_model_logging_can_be_turned_off_and_survives_an_unreachable_store(monkeypatch, tmp_path, tiny_generator_file):
    model = load_sketch_to_photo(tiny_generator_file)
    with Tracker().start() as tracker:
        assert log_generator(tracker, model, TrackingParams(log_model=False)) is None
    experiment = mlflow.get_run(tracker.run_id).info.experiment_id
    assert mlflow.search_logged_models(experiment_ids=[experiment], output_format="list") == []

    point_mlflow_at_an_unreachable_store(monkeypatch, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Tracker().start() as unreachable:
            assert log_generator(unreachable, model, TrackingParams()) is None
    assert any("continuing without tracking" in str(w.message) for w in caught)


@pytest.fixture(scope="module")
def hinted_model_uri(hinted_generator_file, tmp_path_factory):
    from sketch2face.models.generator import load_generator_file
    from sketch2face.models.sketch_to_photo import SketchToPhoto

    store = f"sqlite:///{tmp_path_factory.mktemp('mlflow-hints') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        with Tracker().start() as tracker:
            uri = log_generator(tracker, SketchToPhoto(*load_generator_file(hinted_generator_file)), TrackingParams())
    assert uri, "logging the generator failed"
    return store, uri


def test_a_generator_without_hints_has_no_params_in_its_signature(logged_generator):
    assert mlflow.models.get_model_info(logged_generator.model_uri).signature.params is None


def test_hints_are_optional_params_of_the_pyfunc_one_colour_for_all_or_one_per_sketch(
    hinted_model_uri, hinted_generator_file, monkeypatch
):
    store, uri = hinted_model_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    params = mlflow.models.get_model_info(uri).signature.params
    assert [(spec.name, spec.dtype.name, spec.default, spec.shape) for spec in params.params] == [
        ("skin", "string", ["auto"], (-1,)),
        ("hair", "string", ["auto"], (-1,)),
    ]
    pyfunc = mlflow.pyfunc.load_model(uri)
    model = load_sketch_to_photo(hinted_generator_file)
    sketches = _sketches(3)
    torch_sketches = torch.from_numpy(sketches)
    np.testing.assert_array_equal(pyfunc.predict(sketches), model(torch_sketches).numpy())
    given = pyfunc.predict(sketches, params={"skin": ["#8d5524"], "hair": ["black", "auto", "monk-03"]})
    expected = model(torch_sketches, skin="#8d5524", hair=["black", "auto", "monk-03"]).numpy()
    np.testing.assert_array_equal(given, expected)
    assert not np.array_equal(given, pyfunc.predict(sketches))
    assert torch.equal(
        mlflow.pytorch.load_model(uri)(torch_sketches, skin="monk-07"), model(torch_sketches, skin="monk-07")
    )
    with pytest.raises(Exception, match="hint skin: 'beige' is not a colour"):
        pyfunc.predict(sketches, params={"skin": ["beige"]})
