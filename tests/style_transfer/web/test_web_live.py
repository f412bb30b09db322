"""The live camera's WebSocket (`/api/live`), over real connections to 127.0.0.1: frames come back
painted and steadied exactly as the Python API paints them, each tab with its own stabilizer;
bad starts and bad frames get one line and leave the server up."""

import json

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("cv2", reason="the [video] extra is not installed")
websockets_client = pytest.importorskip("websockets.sync.client")

from style_transfer.base import images  # noqa: E402
from style_transfer.painting import conditions, stabilize, stylize  # noqa: E402
from style_transfer.web.app import create_app  # noqa: E402
from style_transfer.web.settings import ServerSettings  # noqa: E402
from tests.style_transfer.builders import photo_array  # noqa: E402
from tests.style_transfer.web.web_server import Client, serving  # noqa: E402

WIDTH, HEIGHT = 48, 32
SETTINGS = ServerSettings(live_px=64, max_sessions=6)
BLEND = [0.0, 1.0, 0.0]  # scream
SOFT_EDGE_PX = 4.0


@pytest.fixture(scope="module")
def app(model):
    return create_app([("tiny", model)], SETTINGS)


@pytest.fixture(scope="module")
def url(app):
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def frames():
    """A camera panning over a photo, as RGB frames."""
    clip, _ = stabilize.pan_clip(photo_array(5, 60, 90), 5, (WIDTH, HEIGHT), velocity=(2, 1))
    return clip


def paint_request(weights=BLEND, regions=()):
    return {"model": 0, "weights": list(weights), "regions": list(regions),
            "soft_edge_px": SOFT_EDGE_PX}


def rgba(frame):
    return np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], -1).tobytes()


def from_rgba(data):
    picture = np.frombuffer(data, np.uint8).reshape(HEIGHT, WIDTH, 4)
    assert (picture[..., 3] == 255).all()
    return picture[..., :3]


def open_stream(url, session, width=WIDTH, height=HEIGHT, paint=None):
    """A live stream, started; returns (connection, the server's first answer)."""
    connection = websockets_client.connect(url.replace("http://", "ws://") + "/api/live")
    connection.send(json.dumps({"session": session, "width": width, "height": height,
                                "paint": paint or paint_request()}))
    return connection, json.loads(connection.recv(timeout=60))


def expected_paintings(model, frames, styles_per_frame, labels_per_frame=None):
    """What the API paints: each frame on the stabilizer's canvas, the regions mixed on the
    frame, blended with the previous output; as the bytes the page gets."""
    stabilizer = stabilize.make_stabilizer("canvas")
    outputs = []
    labels_per_frame = labels_per_frame or [None] * len(frames)
    for frame, styles, labels in zip(frames, styles_per_frame, labels_per_frame):
        motion = stabilizer.prepare(frame)
        pictures = [motion.from_canvas(picture)
                    for picture in stylize.stylize_many(model, motion.canvas, styles)]
        picture = pictures[0]
        if labels is not None:
            weights = conditions.region_weights(labels, len(styles), (HEIGHT, WIDTH),
                                                SOFT_EDGE_PX)
            picture = stylize.mix_regions(pictures, weights)
        outputs.append(images.to_uint8(stabilizer.finish(motion, picture)))
    return outputs


def assert_close(shown, expected):
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.slow
def test_camera_frames_come_back_painted_and_steadied_as_the_api_paints_them(url, model,
                                                                             frames):
    client = Client(url)
    connection, first = open_stream(url, client.session)
    assert first == {"live": True, "width": WIDTH, "height": HEIGHT}
    with connection:
        shown = []
        for index, frame in enumerate(frames):
            if index == 3:  # a slider moved: the next frames take the new blend
                connection.send(json.dumps({"paint": paint_request([1, 0, 1])}))
            connection.send(rgba(frame))
            shown.append(from_rgba(connection.recv(timeout=60)))
    styles = [[BLEND]] * 3 + [[[0.5, 0.0, 0.5]]] * 2
    for picture, expected in zip(shown, expected_paintings(model, frames, styles)):
        assert_close(picture, expected)
    # The pan is followed: the canvas moved with the camera.
    assert np.abs(shown[2].astype(int) - shown[1].astype(int)).mean() > 1


def test_regions_painted_on_the_camera_take_their_style(url, model, frames):
    client = Client(url)
    connection, _ = open_stream(url, client.session, paint=paint_request(regions=[2]))
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    labels[:, WIDTH // 2:] = 1
    with connection:
        connection.send(rgba(frames[0]))
        connection.recv(timeout=60)
        status, answer = client.send_regions(labels)  # at the camera frame's size
        assert status == 200, answer
        connection.send(rgba(frames[1]))
        shown = from_rgba(connection.recv(timeout=60))
    # The first frame had no regions yet; the second takes them.
    expected = expected_paintings(model, frames[:2], [[BLEND], [BLEND, [0, 0, 1.0]]],
                                  [None, labels])
    assert_close(shown, expected[1])
    # Away from its soft edge the unpainted half is the blend's; the painted half is not.
    difference = np.abs(shown.astype(int) - expected_paintings(model, frames[:2],
                                                               [[BLEND]] * 2)[1])
    assert difference[:, :16].max() <= 2 and difference[:, -16:].mean() > 5


@pytest.mark.parametrize("start, message", [
    ("not json", "not JSON"),
    ({"session": "nobody", "width": WIDTH, "height": HEIGHT, "paint": paint_request()},
     "session"),
    ({"width": 640, "height": 480, "paint": paint_request()}, "16 to 64 pixels"),
    ({"width": WIDTH, "height": HEIGHT, "paint": {"model": 0, "weights": "all"}}, "weights"),
    ({"width": WIDTH, "height": HEIGHT, "paint": paint_request(), "fps": 60}, "unknown"),
    ({"width": WIDTH, "height": HEIGHT, "paint": paint_request([0.0] * 20_000)},
     "over 64 KiB"),
])
def test_bad_starts_are_refused_with_one_line_and_closed(url, start, message):
    from websockets.exceptions import ConnectionClosed

    client = Client(url)
    if isinstance(start, dict) and "session" not in start:
        start = {"session": client.session, **start}
    connection = websockets_client.connect(url.replace("http://", "ws://") + "/api/live")
    with connection:
        connection.send(start if isinstance(start, str) else json.dumps(start))
        answer = json.loads(connection.recv(timeout=60))
        assert message in answer["error"] and "\n" not in answer["error"]
        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=60)
    assert client.get_json("/api/config")[0] == 200  # the server goes on


def test_a_page_of_another_site_cannot_open_the_camera(url):
    from websockets.exceptions import ConnectionClosed

    client = Client(url)
    connection = websockets_client.connect(url.replace("http://", "ws://") + "/api/live",
                                           origin="https://elsewhere.example")
    with connection:  # refused at once, before its first message
        answer = json.loads(connection.recv(timeout=60))
        assert "pages of other sites are refused" in answer["error"]
        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=60)
    connection, answer = open_stream(url, client.session)  # the page's own: no Origin
    connection.close()
    assert answer["live"]


def test_a_camera_addressed_to_another_host_is_refused(url):
    # DNS rebinding (see test_web_server): the WebSocket is refused at its handshake.
    import socket

    from websockets.exceptions import InvalidStatus

    address, port = url.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=60) as sock:
        with pytest.raises(InvalidStatus, match="403"):
            websockets_client.connect(f"ws://rebound.example:{port}/api/live", sock=sock)


def test_a_camera_that_sends_no_first_message_is_closed(url, monkeypatch):
    from websockets.exceptions import ConnectionClosed

    from style_transfer.web import app as app_module

    monkeypatch.setattr(app_module, "FIRST_MESSAGE_SECONDS", 0.2)
    connection = websockets_client.connect(url.replace("http://", "ws://") + "/api/live")
    with connection:
        answer = json.loads(connection.recv(timeout=60))
        assert "first message" in answer["error"] and "did not come within 0.2 s" in \
            answer["error"]
        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=60)


def test_a_frame_of_the_wrong_size_gets_one_line_and_the_stream_goes_on(url, frames):
    client = Client(url)
    connection, _ = open_stream(url, client.session)
    with connection:
        connection.send(b"\x00" * 100)
        answer = json.loads(connection.recv(timeout=60))
        assert answer["frame"] is True and "48 x 32 x 4 = 6144 bytes" in answer["error"]
        connection.send(json.dumps({"paint": {"model": 7, "weights": BLEND}}))
        answer = json.loads(connection.recv(timeout=60))
        assert "model must be 0 to 0" in answer["error"] and "frame" not in answer
        connection.send(rgba(frames[0]))
        assert len(connection.recv(timeout=60)) == WIDTH * HEIGHT * 4


def test_a_message_over_64_kib_is_refused_unparsed_and_the_stream_goes_on(url, frames):
    # The WebSocket takes messages of up to 16 MiB: parsed, one would hold the event loop (and
    # every other page) for seconds.
    client = Client(url)
    connection, _ = open_stream(url, client.session)
    with connection:
        connection.send(json.dumps({"paint": paint_request([0.0] * 20_000)}))
        answer = json.loads(connection.recv(timeout=60))
        assert answer == {"error": "the message is over 64 KiB, the most accepted."}
        connection.send(rgba(frames[0]))
        assert len(connection.recv(timeout=60)) == WIDTH * HEIGHT * 4


@pytest.mark.parametrize("messages", [
    [],  # the page left before starting its camera
    ["start", b"\x00" * 10],  # ... or before the answer to a bad frame
], ids=["before-start", "after-bad-frame"])
def test_a_page_that_leaves_while_answered_ends_its_stream_quietly(app, messages):
    # Driven as the server drives it: sending to a page that has gone raises OSError
    # (uvicorn's ClientDisconnected), which must end the stream, not escape as a server error.
    import anyio

    session = app.state.sessions.create()
    start = json.dumps({"session": session.id, "width": WIDTH, "height": HEIGHT,
                        "paint": paint_request()})
    incoming = [{"type": "websocket.connect"}]
    incoming += [{"type": "websocket.receive", **({"text": start} if message == "start"
                                                   else {"bytes": message})}
                 for message in messages]
    incoming.append({"type": "websocket.disconnect", "code": 1001})
    answers = 1 + len(messages[:1])  # the accept, then "live" if started

    async def receive():
        return incoming.pop(0)

    async def send(message):
        nonlocal answers
        if answers == 0:
            raise OSError("the page has gone")
        answers -= 1

    scope = {"type": "websocket", "path": "/api/live", "raw_path": b"/api/live",
             "query_string": b"", "headers": [], "scheme": "ws", "root_path": "",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "subprotocols": [],
             "asgi": {"version": "3.0"}}
    anyio.run(app, scope, receive, send)
    assert session.live_size is None  # the camera is stopped: the tab may start it again


def test_two_tabs_paint_their_cameras_apart(url, model, frames):
    tabs = [Client(url), Client(url)]
    streams = [open_stream(url, tab.session)[0] for tab in tabs]
    shown = [[], []]
    # The second tab sends the clip backwards: each stabilizer sees only its own frames.
    sequences = [frames, frames[::-1]]
    for index in range(len(frames)):
        for tab, connection in enumerate(streams):
            connection.send(rgba(sequences[tab][index]))
            shown[tab].append(from_rgba(connection.recv(timeout=60)))
    for connection in streams:
        connection.close()
    for tab in range(2):
        expected = expected_paintings(model, sequences[tab], [[BLEND]] * len(frames))
        for picture, reference in zip(shown[tab], expected):
            assert_close(picture, reference)


def test_one_tab_paints_one_camera_at_a_time(url):
    client = Client(url)
    first, answer = open_stream(url, client.session)
    assert answer["live"]
    second, answer = open_stream(url, client.session)
    assert "already painting its camera" in answer["error"]
    second.close()
    first.close()
    # Once the first stream is gone (the server sees it close), a new one may start.
    for _ in range(50):
        third, answer = open_stream(url, client.session)
        third.close()
        if answer.get("live"):
            break
    assert answer.get("live")
