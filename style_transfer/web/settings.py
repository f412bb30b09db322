"""The web server's limits and defaults: what `style-transfer serve --help` shows and the app uses."""

import dataclasses
import math

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import option

_LIMITS = "limits"


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How the web page is served and what it accepts.

    The options of `style-transfer serve` are these fields (with the model fields of
    `style_transfer.painting.config.PaintConfig`).

    Args:
        host: Address to listen on; 127.0.0.1 keeps the page on this computer.
        port: TCP port (0: any free port).
        preview_px: Long side of the preview painted while sliders move (what
            it costs: BENCHMARKS.md, "Web page").
        max_upload_mib: Largest upload (photo or style image), in MiB.
        max_megapixels: Largest photo accepted, width x height in millions of
            pixels, checked from the file's header before any pixel is decoded
            (decompression bombs are refused, not decoded).
        max_sessions: Visitors (browser tabs) kept at once; past this, the
            one idle longest is forgotten (its page asks to reload).
        session_minutes: A session unused this long is forgotten.
        preview_threads: Previews painted at once (the others wait).
        full_threads: Full-size pictures painted at once (the others wait).
        live_px: Long side of the camera frames painted live: the page scales
            its camera to it, and the server refuses larger frames.
        max_regions: Regions a visitor can paint, each in its own style.
        max_style_images: Style images per visitor (arbitrary-style models).
    """

    host: str = option("127.0.0.1", "address to listen on; anything but 127.0.0.1 lets other "
                       "computers use the page")
    port: int = option(8765, "TCP port (0: any free one)", minimum=0, maximum=65535)
    preview_px: int = option(384, "long side of the preview painted while sliders move",
                             flag="--preview-size", metavar="PX", minimum=16, maximum=4096,
                             group=_LIMITS)
    max_upload_mib: float = option(25.0, "largest photo or style image file accepted",
                                   metavar="MIB", minimum=0.001, maximum=4096.0,
                                   group=_LIMITS)
    max_megapixels: float = option(24.0, "largest photo accepted (width x height, read from "
                                   "the file's header before decoding)", metavar="MP",
                                   minimum=0.001, maximum=1000.0, group=_LIMITS)
    max_sessions: int = option(8, "browser tabs kept at once (the one idle longest gives way)",
                               metavar="N", minimum=1, maximum=10_000, group=_LIMITS)
    session_minutes: float = option(30.0, "forget a tab's pictures after this long unused",
                                    metavar="MIN", minimum=0.1, maximum=60.0 * 24 * 365,
                                    group=_LIMITS)
    live_px: int = option(320, "long side of the camera frames the page paints live (the "
                          "page scales its camera to it; larger frames are refused)",
                          flag="--live-size", metavar="PX", minimum=16, maximum=1920,
                          group=_LIMITS)
    preview_threads: int = 2
    full_threads: int = 1
    max_regions: int = 8
    max_style_images: int = 4

    def __post_init__(self):
        for field in dataclasses.fields(self):
            low, high = field.metadata.get("minimum"), field.metadata.get("maximum")
            value = getattr(self, field.name)
            if low is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                               and math.isfinite(value) and low <= value <= high):
                continue
            raise BadInput(f"`{field.name}` must be from {low:g} to {high:g}; received "
                           f"{value!r}.")

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mib * 2**20)

    @property
    def max_pixels(self):
        return int(self.max_megapixels * 1e6)
