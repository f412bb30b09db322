"""Each visitor's photo, painted regions, style images and full-size picture, in memory.

A session is what one browser tab works on, found by an unguessable id (32
random bytes, URL-safe) that the page sends with every request; one tab can
neither read nor change another's pictures. Nothing is written to disk.
Sessions unused for `session_minutes` are forgotten, and when `max_sessions`
are open the one idle longest gives way to a new one (a session painting a
full-size picture is never dropped).

Arrays in a session are replaced, never changed in place: a request takes
the ones it needs under the session's lock and paints outside it, so a new
photo arriving mid-paint cannot tear a picture.
"""

import collections
import dataclasses
import secrets
import threading
import time

import numpy as np

from style_transfer.base.errors import BadInput

# Pictures of one photo kept for its previews: the blend and up to 8 regions' styles, and a few
# earlier conditions (a slider moved back).
PREVIEW_PICTURES = 12


class UnknownSession(BadInput):
    """A session id the server does not know (never made, or forgotten)."""


class ServerBusy(BadInput):
    """Every session slot is taken by a session that is busy painting."""


@dataclasses.dataclass
class FullPicture:
    """A full-size picture being painted or painted: its state, progress and PNG."""

    state: str = "painting"  # "painting", "done" or "failed"
    progress: float = 0.0
    png: bytes = None
    size: tuple = None
    error: str = None


class PictureCache:
    """The latest pictures of one photo, by condition and photo options (least recent dropped).

    Moving a slider changes only the unpainted part's blend, and painting
    changes no condition at all: with the regions' pictures kept, a preview
    then costs one pass of the network or none.
    """

    def __init__(self, max_entries):
        self.max_entries = max_entries
        self._pictures = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            picture = self._pictures.get(key)
            if picture is not None:
                self._pictures.move_to_end(key)
            return picture

    def put(self, key, picture):
        with self._lock:
            self._pictures[key] = picture
            self._pictures.move_to_end(key)
            while len(self._pictures) > self.max_entries:
                self._pictures.popitem(last=False)


class Session:
    """One visitor's working state (see the module docstring)."""

    def __init__(self, session_id):
        self.id = session_id
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.photo = None            # uint8 (H, W, 3): what the full-size picture paints
        self.preview = None          # float32 (h, w, 3): the photo at the preview size
        self.alpha = None            # uint8 (H, W): the photo's transparency, or None (opaque)
        self.preview_alpha = None    # uint8 (h, w): the same at the preview size, or None
        self.labels = None           # uint8 (h, w): 0 unpainted, k region k
        self.style_images = []       # float32 squares, for arbitrary-style models
        self.embeddings = {}         # model index -> (len(style_images), D) embeddings
        self.full = None             # FullPicture of the current photo, or None
        self.pictures = PictureCache(PREVIEW_PICTURES)  # the preview's painted conditions
        self.live_size = None        # (width, height) while the tab paints its camera

    def set_photo(self, photo, preview, alpha=None, preview_alpha=None):
        """A new photo (painted composited on white) and its preview; with transparency, their
        alpha channels (uint8), put back on their pictures."""
        with self.lock:
            self.photo, self.preview = photo, preview
            self.alpha, self.preview_alpha = alpha, preview_alpha
            self.labels = None
            self.full = None
            self.pictures = PictureCache(PREVIEW_PICTURES)

    def set_labels(self, labels):
        with self.lock:
            height, width = self.labels_shape()
            if labels.shape != (height, width):
                what = "the camera frame's size" if self.live_size else "the preview's size"
                raise BadInput(f"the painted regions must be {width} x {height} labels "
                               f"({what}); received {labels.shape[1]} x {labels.shape[0]}.")
            self.labels = labels

    def labels_shape(self):
        """(height, width) of the painted regions: the camera's frames while live, else the
        preview's (call with the lock held)."""
        if self.live_size is not None:
            return self.live_size[1], self.live_size[0]
        if self.preview is None:
            raise BadInput("send a photo (or start the camera) before painting regions.")
        return self.preview.shape[:2]

    def start_live(self, size):
        """The tab paints its camera at `size` (width, height): regions start afresh."""
        with self.lock:
            if self.live_size is not None:
                raise BadInput("this page is already painting its camera.")
            self.live_size = tuple(size)
            self.labels = None

    def stop_live(self):
        with self.lock:
            self.live_size = None
            self.labels = None

    def live_state(self, model):
        """(labels, style images, embeddings of `model` or None) for a camera frame."""
        with self.lock:
            return self.labels, self.style_images, self.embeddings.get(model)

    def keep_embeddings(self, model, style_images, embeddings):
        """Keeps the style images' embeddings for `model` if the images have not changed."""
        with self.lock:
            if self.style_images is style_images:
                self.embeddings[model] = embeddings

    def add_style_image(self, image, limit):
        with self.lock:
            if len(self.style_images) >= limit:
                raise BadInput(f"at most {limit} style images; remove some first.")
            self.style_images = self.style_images + [image]
            self.embeddings = {}
            self.pictures = PictureCache(PREVIEW_PICTURES)
            return len(self.style_images)

    def clear_style_images(self):
        with self.lock:
            self.style_images = []
            self.embeddings = {}
            self.pictures = PictureCache(PREVIEW_PICTURES)

    def snapshot(self, full_size):
        """(photo, labels, style images, picture cache, alpha) to paint: the full photo (float,
        no cache) or the preview (with the cache of its pictures), and the alpha channel of
        that size to put on its picture (None for a photo without transparency)."""
        with self.lock:
            if self.photo is None:
                raise BadInput("send a photo (or choose a bundled one) first.")
            if full_size:
                return (self.photo.astype(np.float32) / 255.0, self.labels, self.style_images,
                        None, self.alpha)
            return self.preview, self.labels, self.style_images, self.pictures, self.preview_alpha

    @property
    def busy(self):
        full = self.full
        return full is not None and full.state == "painting"


class SessionStore:
    """The open sessions, with the limits of `ServerSettings` (thread-safe)."""

    def __init__(self, max_sessions, idle_seconds):
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._sessions = {}
        self._lock = threading.Lock()

    def create(self):
        with self._lock:
            self._forget_idle()
            if len(self._sessions) >= self.max_sessions:
                idle = [session for session in self._sessions.values() if not session.busy]
                if not idle:
                    raise ServerBusy(f"all {self.max_sessions} sessions are painting full-size "
                                     f"pictures; try again in a moment.")
                del self._sessions[min(idle, key=lambda session: session.last_used).id]
            session = Session(secrets.token_urlsafe(32))
            self._sessions[session.id] = session
            return session

    def get(self, session_id):
        with self._lock:
            session = self._sessions.get(session_id or "")
            if session is None:
                raise UnknownSession("this page's session is unknown or has expired; reload "
                                     "the page.")
            session.last_used = time.monotonic()
            return session

    def __len__(self):
        with self._lock:
            return len(self._sessions)

    def _forget_idle(self):
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if now - session.last_used > self.idle_seconds and not session.busy:
                del self._sessions[session.id]
