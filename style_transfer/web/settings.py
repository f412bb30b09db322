"""The web server's limits and defaults: what `style-transfer serve --help` shows and the app uses."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How the web page is served and what it accepts.

    Args:
        host: Address to listen on; 127.0.0.1 keeps the page on this computer.
        port: TCP port (0: any free port).
        preview_px: Long side of the preview painted while sliders move. 384 px
            paints in well under 300 ms with the slim pretrained network on a
            2-core CPU (BENCHMARKS.md, "Web page").
        max_upload_mib: Largest upload (photo or style image), in MiB.
        max_megapixels: Largest photo accepted, width x height in millions of
            pixels, checked from the file's header before any pixel is decoded
            (decompression bombs are refused, not decoded).
        max_sessions: Visitors (browser tabs) kept at once; past this, the
            one idle longest is forgotten (its page asks to reload).
        session_minutes: A session unused this long is forgotten.
        preview_threads: Previews painted at once (the others wait).
        full_threads: Full-size pictures painted at once (the others wait).
        max_regions: Regions a visitor can paint, each in its own style.
        max_style_images: Style images per visitor (arbitrary-style models).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    preview_px: int = 384
    max_upload_mib: float = 25.0
    max_megapixels: float = 24.0
    max_sessions: int = 8
    session_minutes: float = 30.0
    preview_threads: int = 2
    full_threads: int = 1
    max_regions: int = 8
    max_style_images: int = 4

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mib * 2**20)

    @property
    def max_pixels(self):
        return int(self.max_megapixels * 1e6)
