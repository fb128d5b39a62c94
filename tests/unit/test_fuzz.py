"""Property-based fuzzing of every parser of outside input: nothing but camwatch's typed errors.

Issue 12. Hypothesis generates arbitrary JSON values, bytes, text and near-valid records for
the Pub/Sub envelope (``decode_pubsub``), the message schemas and their records, the camera
registry and the HTTP body parser; each property says the parser either returns or raises a
:class:`CamwatchError`. Runs are reproducible (``derandomize``, no example database) and small
(200 examples each), so the unit tier stays fast.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import flask
import pytest
import yaml
from flask.testing import FlaskClient
from functions_framework import create_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import bootstrap
from shared.domain.jobs import CameraJob, SweepRequest
from shared.domain.registry import CAMERA_ID, parse_registry
from shared.domain.violations import ViolationRecord
from shared.entrypoints.edge import read_json
from shared.errors import CamwatchError
from shared.messages.envelope import PUBSUB_EVENT, dead_letter, decode_pubsub
from shared.messages.json_input import depth_of, load_json
from shared.messages.schemas import validate
from shared.settings import Settings
from tests.conftest import ROOT, jpeg
from tests.unit.fakes import TEST_KEYS, keyed, registry_of, wired

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 11, 29, 16, 21, 14, tzinfo=UTC)

# JSON values, from scalars up to a few levels of lists and objects.
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
camera_ids = st.from_regex(CAMERA_ID, fullmatch=True) | st.sampled_from(["cam-a", "cam-404"])
timestamps = (
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    | st.datetimes().map(lambda d: d.isoformat())  # no offset
    | st.sampled_from(["2026-11-29t16:21:14z", "2026-12-31T23:59:60Z", "9999-12-31T23:59:59-23:59"])
    | st.text(alphabet="0123456789-:.+TtZz ", max_size=30)
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A plausible value, or anything at all."""
    return strategy | json_values


def encoded(data: st.SearchStrategy[bytes]) -> st.SearchStrategy[str]:
    return data.map(lambda b: base64.b64encode(b).decode())


json_bytes = json_values.map(lambda v: json.dumps(v).encode())
message_data = (
    encoded(json_bytes) | encoded(st.binary(max_size=64)) | st.text(max_size=16) | json_values
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "data": message_data,
        "attributes": maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=8))),
        "messageId": maybe(st.text(max_size=12)),
        "publishTime": maybe(timestamps),
    },
)
event_types = st.sampled_from([PUBSUB_EVENT, "google.cloud.storage.object.v1.finalized"]) | st.text(
    max_size=30
)


@FUZZ
@given(event_types, st.fixed_dictionaries({"message": maybe(messages)}) | json_values)
def test_the_envelope_raises_only_typed_errors(event_type: str, data: Any) -> None:
    try:
        message = decode_pubsub(event_type, data, max_depth=32)
    except CamwatchError:
        return
    assert isinstance(message.attributes, dict)
    letter = dead_letter(message.raw, "reason " * 500, "camera-jobs", message.message_id)
    assert all(len(v.encode()) <= 1024 for v in letter.attributes.values())


jobs = st.fixed_dictionaries(
    {
        "sweep_id": maybe(st.from_regex(r"^[A-Za-z0-9_.:-]{1,128}$", fullmatch=True)),
        "camera_id": maybe(camera_ids),
        "scheduled_at": maybe(timestamps),
    },
    optional={"extra": json_values},
)
sweeps = st.fixed_dictionaries(
    {}, optional={"sweep_id": maybe(st.text(max_size=10)), "cameras": maybe(st.lists(camera_ids))}
)
boxes = st.fixed_dictionaries({k: maybe(st.floats()) for k in ("x1", "y1", "x2", "y2")})
violations = st.fixed_dictionaries(
    {
        "violation_id": maybe(st.from_regex(r"^[0-9a-f]{32}$", fullmatch=True)),
        "camera_id": maybe(camera_ids),
        "event_time": maybe(timestamps),
        "type": maybe(st.sampled_from(["bus_lane", "bike_lane", "crosswalk"])),
        "zone": maybe(st.text(min_size=1, max_size=10)),
        "class_name": maybe(st.sampled_from(["car", "bus", "person"])),
        "confidence": maybe(st.floats(0, 1)),
        "box": maybe(boxes),
        "evidence_uri": maybe(st.text(max_size=10).map(lambda t: "gs://" + t)),
        "observation_id": maybe(st.text(max_size=10)),
    },
    optional={"sweep_id": maybe(st.none() | st.text(max_size=10))},
)


def job_record(payload: dict[str, Any]) -> Any:
    return CameraJob.from_message(payload).age_s(NOW)


RECORDS = {
    "camera_job": (jobs, job_record),
    "camera_sweep": (sweeps, SweepRequest.from_message),
    "violation": (violations, ViolationRecord.from_message),
}


@pytest.mark.parametrize("schema", sorted(RECORDS))
def test_message_validation_and_records_raise_only_typed_errors(schema: str) -> None:
    strategy, record = RECORDS[schema]

    @FUZZ
    @given(strategy | json_values)
    def check(payload: Any) -> None:
        try:
            record(validate(schema, payload))
        except CamwatchError:
            return

    check()


yaml_text = st.text(alphabet=string.printable + "é\u2028\ufeff", max_size=200)
zones = st.fixed_dictionaries(
    {
        "name": maybe(st.text(max_size=8)),
        "type": maybe(st.sampled_from(["bus_lane", "roadway"])),
        "polygon": maybe(st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), max_size=5)),
    }
)
cameras = st.fixed_dictionaries(
    {
        "id": maybe(camera_ids),
        "name": maybe(st.text(max_size=8)),
        "source": maybe(st.text(max_size=12)),
        "location": maybe(st.fixed_dictionaries({"lat": st.floats(), "lon": st.floats()})),
    },
    optional={"zones": maybe(st.lists(zones, max_size=3)), "rules": json_values},
)
registries = st.fixed_dictionaries(
    {"cameras": maybe(st.lists(cameras, max_size=3))}, optional={"x": json_values}
)


@FUZZ
@given(yaml_text | registries.map(yaml.safe_dump) | json_values.map(yaml.safe_dump))
def test_the_registry_raises_only_typed_errors(text: str) -> None:
    try:
        registry = parse_registry(text, env={"CAMWATCH_DEMO_CAMERA_URL": "http://c"})
    except CamwatchError:
        return
    assert registry.cameras


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,  # deeper than the YAML parser's recursion
        "&a [*a, *a]",  # an alias to itself
        "a: &a [" + ", ".join(["*a"] * 10) + "]",
        "cameras: !!python/object:os.system {}",
        "\x00",
    ],
)
def test_hostile_registry_yaml_is_a_config_error(text: str) -> None:
    with pytest.raises(CamwatchError):
        parse_registry(text)


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ]
) | st.text(st.characters(exclude_characters="\r\n"), max_size=20)  # no server passes a newline
APP = flask.Flask(__name__)


@pytest.fixture(scope="module")
def process_camera() -> Iterator[FlaskClient]:
    """process_camera under functions-framework over one camera of the fakes, for the module
    (hypothesis runs every example in one test: no function-scoped fixtures)."""
    fakes = wired(
        registry_of({"id": "cam-a", "source": "http://c/a.jpg"}),
        {"http://c/a.jpg": jpeg("car1.jpg")},
    )
    bootstrap.bootstrap(Settings(api_keys=TEST_KEYS), **fakes.overrides())
    source = str(ROOT / "functions" / "process_camera" / "main.py")
    yield keyed(create_app("process_camera", source, "http").test_client())
    bootstrap.reset()


bodies = json_bytes | st.binary(max_size=300) | st.text(max_size=100).map(str.encode)


@FUZZ
@given(bodies, content_types, st.booleans())
def test_the_request_parser_raises_only_typed_errors(
    body: bytes, content_type: str, chunked: bool
) -> None:
    headers = {"Content-Type": content_type}
    extra: dict[str, Any] = {}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        extra["environ_overrides"] = {"wsgi.input_terminated": True}
    with APP.test_request_context("/", method="POST", data=body, headers=headers, **extra):
        try:
            value = read_json(flask.request, 256, 8, empty={})
        except CamwatchError:
            return
    assert value == {} or len(body) <= 256


@FUZZ
@given(bodies, content_types, st.sampled_from(["POST", "GET", "PUT"]))
def test_process_camera_answers_every_body_without_a_500(
    process_camera: FlaskClient, body: bytes, content_type: str, method: str
) -> None:
    response = process_camera.open(
        "/process/camera/cam-a", method=method, data=body, headers={"Content-Type": content_type}
    )
    assert response.status_code in (200, 400, 405, 413), response.get_data()[:200]
    assert response.is_json
    if response.status_code == 200:  # nothing, or a JSON object
        assert not body or isinstance(json.loads(body), dict)


@FUZZ
@given(bodies | st.binary(max_size=2000))
def test_the_json_loader_raises_only_typed_errors(data: bytes) -> None:
    try:
        value = load_json(data, 4)
    except CamwatchError:
        return
    assert depth_of(value, 4) <= 4


@pytest.fixture(scope="module")
def predictions() -> Iterator[FlaskClient]:
    """predictions under functions-framework over two cameras with a forecast, for the module."""
    from tests.unit.test_predictions_http import CAMERAS, LiveTables

    fakes = wired(registry_of(*({"id": c, "source": f"http://c/{c}.jpg"} for c in CAMERAS)))
    bootstrap.bootstrap(Settings(api_keys=TEST_KEYS), **fakes.overrides(), tables=LiveTables())
    source = str(ROOT / "functions" / "predictions" / "main.py")
    yield keyed(create_app("predictions", source, "http").test_client())
    bootstrap.reset()


# Bulk bodies near the real shape: the right keys with any values, and any extra keys.
bulk_bodies = st.fixed_dictionaries(
    {},
    optional={
        "cameras": st.lists(
            camera_ids | st.sampled_from(["cam-001-market-5th"]) | json_values, max_size=5
        )
        | json_values,
        "horizon": st.integers(-5, 3000) | json_values,
        "metric": st.sampled_from(["vehicles", "persons", "violations"]) | json_values,
        "confidence": st.floats(0, 1.5) | json_values,
    },
) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)


@FUZZ
@given(bulk_bodies.map(lambda b: json.dumps(b).encode()) | bodies, content_types)
def test_predictions_bulk_answers_every_body_without_a_500(
    predictions: FlaskClient, body: bytes, content_type: str
) -> None:
    response = predictions.post(
        "/predictions/bulk", data=body, headers={"Content-Type": content_type}
    )
    assert response.status_code in (200, 400, 404, 413), response.get_data()[:200]
    assert response.is_json


@FUZZ
@given(
    # no control characters: a path with one is functions-framework's own 404 page (the HTTP
    # reference says so), never camwatch's
    camera_ids | st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30),
    st.dictionaries(
        st.sampled_from(["horizon", "metric", "confidence"]) | st.text(max_size=8),
        st.text(max_size=12) | st.integers(-10, 3000).map(str),
        max_size=3,
    ),
)
def test_predictions_get_answers_every_query_without_a_500(
    predictions: FlaskClient, camera: str, args: dict[str, str]
) -> None:
    response = predictions.get(f"/predictions/{quote(camera, safe='')}", query_string=args)
    assert response.status_code in (200, 400, 404, 405), response.get_data()[:200]
    assert response.is_json
