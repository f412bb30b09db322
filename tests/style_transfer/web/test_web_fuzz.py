"""The web API's JSON bodies on generated hostile input (Hypothesis, over real HTTP): any
body is painted (200) or refused with a one-line error (400, or 413 past the size limit),
never a 500, and the server goes on painting.

Schemathesis would generate requests from an OpenAPI schema; the app has none, and its
paint requests are two JSON endpoints, so a hand-written strategy of their fields and of
any JSON value covers the same ground without a schema to keep in sync.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from style_transfer.web.app import MAX_JSON_BYTES, create_app  # noqa: E402
from style_transfer.web.settings import ServerSettings  # noqa: E402
from tests.style_transfer.builders import photo_array  # noqa: E402
from tests.style_transfer.web.web_server import Client, png_bytes, serving  # noqa: E402

SETTINGS = ServerSettings(preview_px=32, max_upload_mib=1.0, max_megapixels=0.05)
# A preview of 32 px: each example takes milliseconds.
FEW = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client(model):
    with serving(create_app([("tiny", model)], SETTINGS)) as url:
        client = Client(url)
        assert client.send_photo(png_bytes(photo_array()))[0] == 200
        yield client


scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=10), st.integers(-2**64, 2**64),
    st.sampled_from([0, 1, 2, 3, -1, 10**400, 2**31]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 5e-324]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)
weights = st.one_of(st.lists(st.one_of(st.floats(0, 2), scalars), min_size=0, max_size=4),
                    json_values)
paint_requests = st.fixed_dictionaries(
    {"model": st.one_of(st.just(0), scalars), "weights": weights},
    optional={"regions": st.one_of(st.lists(st.integers(-2, 4), max_size=4), json_values),
              "strength": st.one_of(st.floats(-1, 2), scalars),
              "soft_edge_px": st.one_of(st.floats(-1, 64), scalars),
              "preserve_color": st.one_of(st.booleans(), scalars)})
# Fields the API does not know, beside those it does.
paint_requests = st.tuples(paint_requests, st.dictionaries(
    st.text(max_size=6), json_values, max_size=2)).map(lambda pair: {**pair[1], **pair[0]})
bodies = st.one_of(paint_requests.map(lambda body: json.dumps(body).encode()),
                   json_values.map(lambda value: json.dumps(value).encode()),
                   st.binary(max_size=64),
                   st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth))


@pytest.mark.slow
@FEW
@given(body=bodies, path=st.sampled_from(["/api/preview", "/api/full"]))
def test_any_json_body_is_painted_or_refused_in_one_line(client, body, path):
    status, _, data = client.request("POST", path, body, "application/json")
    if status in (400, 409, 413):
        error = json.loads(data)["error"]
        assert error and "\n" not in error
        assert status != 413 or len(body) > MAX_JSON_BYTES
    else:
        assert status in (200, 202), (status, data[:200])
    assert client.preview({"model": 0, "weights": [1, 0, 0]})[0] == 200
