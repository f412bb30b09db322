"""The live camera: frames from the page's `getUserMedia`, painted and sent back, steady in time.

Over one WebSocket (`/api/live`) per browser tab:

1. The page sends a JSON object: its session, the frame size and the paint
   request (the sliders' blend, the regions' styles, the photo options),
   e.g. `{"session": "...", "width": 320, "height": 240, "paint": {...}}`.
   The server answers `{"live": true, "width": 320, "height": 240}`, or
   `{"error": "one line"}` and closes.
2. Then each binary message is one frame: width x height x 4 bytes of RGBA,
   as a canvas's `getImageData` gives them. The answer is the painting, in the
   same form (alpha 255). A JSON message `{"paint": {...}}` changes the paint
   request from the next frame on; the painted regions come as for photos
   (`PUT /api/regions`, at the frame size). A frame of the wrong size gets
   `{"error": "one line"}` and the stream goes on.

Every frame is painted as a preview is (`painting.paint`: the blend, each
region exactly its style with soft edges, the photo options), on the canvas of
the connection's own `stabilize.Stabilizer`, and blended with the previous
frame. Frames are bounded in size (`ServerSettings.live_px`) and in rate (the
server reads a frame only when it has answered the one before, so a page that
sends faster waits on its own socket); nothing is stored.
"""

import dataclasses

import numpy as np

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.painting import stabilize
from style_transfer.web import painting

MIN_LIVE_PX = 16


@dataclasses.dataclass(frozen=True)
class LiveStart:
    """The first message of a live stream, checked (see `parse`)."""

    session: str
    width: int
    height: int
    paint_request: painting.PaintRequest

    @classmethod
    def parse(cls, body, num_models, settings):
        if not isinstance(body, dict):
            raise BadInput("the first message must be a JSON object with session, width, "
                           "height and paint.")
        unknown = set(body) - {"session", "width", "height", "paint"}
        if unknown:
            raise BadInput(f"unknown fields in the first message: {', '.join(sorted(unknown))}.")
        session = body.get("session")
        if not isinstance(session, str):
            raise BadInput("session must be the page's session id.")
        width, height = body.get("width"), body.get("height")
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInput(f"{name} must be a whole number of pixels; received {value!r}.")
        if min(width, height) < MIN_LIVE_PX or max(width, height) > settings.live_px:
            raise BadInput(f"camera frames must be {MIN_LIVE_PX} to {settings.live_px} "
                           f"pixels on each side; received {width} x {height}.")
        request = painting.PaintRequest.parse(body.get("paint"), num_models,
                                              settings.max_regions)
        return cls(session, width, height, request)


class LiveStream:
    """One tab's camera stream: its size, paint request and stabilizer.

    Args:
        served: The server's `ServedModel`s.
        session: The tab's `Session` (its painted regions and style images).
        start: The `LiveStart` that opened the stream.
    """

    def __init__(self, served, session, start):
        self.served = served
        self.session = session
        self.width, self.height = start.width, start.height
        self.request = start.paint_request
        self.stabilizer = stabilize.make_stabilizer("canvas")
        self.frames = 0

    @property
    def frame_bytes(self):
        return self.width * self.height * 4

    def change(self, body, max_regions):
        """A `{"paint": {...}}` message: the paint request from the next frame on."""
        if not isinstance(body, dict) or set(body) != {"paint"}:
            raise BadInput('a message during the stream must be {"paint": {...}}.')
        self.request = painting.PaintRequest.parse(body["paint"], len(self.served), max_regions)

    def paint(self, data):
        """RGBA bytes of one frame -> RGBA bytes of its painting (in a worker thread)."""
        if len(data) != self.frame_bytes:
            raise BadInput(f"a frame must be {self.width} x {self.height} x 4 = "
                           f"{self.frame_bytes} bytes of RGBA; received {len(data)}.")
        frame = np.frombuffer(data, np.uint8).reshape(self.height, self.width, 4)[..., :3]
        labels, style_images, embeddings = self.session.live_state(self.request.model)
        model = self.served[self.request.model]
        motion = self.stabilizer.prepare(frame)
        picture, embeddings = painting.paint(model, motion.canvas, labels, self.request,
                                             style_images, embeddings,
                                             shift_back=motion.from_canvas)
        picture = self.stabilizer.finish(motion, picture)
        if embeddings is not None:
            self.session.keep_embeddings(self.request.model, style_images, embeddings)
        self.frames += 1
        painted = np.empty((self.height, self.width, 4), np.uint8)
        painted[..., :3] = images.to_uint8(picture)
        painted[..., 3] = 255
        return painted.tobytes()

