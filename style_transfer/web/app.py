"""The Starlette app behind `style-transfer serve`: the page and the endpoints it calls.

    GET  /                               the page (static/index.html)
    GET  /api/config                     models, their styles, bundled photos, limits
    GET  /api/models/{m}/styles/{s}.png  a style's thumbnail
    POST /api/sessions                   a new session: {"session": id}
    POST /api/photo                      the photo, as the file's bytes
    POST /api/photo/bundled/{name}       a bundled photo instead
    PUT  /api/regions                    the painted regions: one label byte per preview pixel
    GET  /api/regions.png                the same labels as a greyscale PNG (a --mask for stylize)
    POST /api/style-images               a style image (arbitrary-style models), as bytes
    DELETE /api/style-images             forget them
    GET  /api/style-images/{i}.png       one of them, as the model sees it
    POST /api/preview                    JSON paint request -> PNG at the preview size
    POST /api/full                       JSON paint request -> starts the full-size picture
    GET  /api/full                       its state and progress (JSON)
    GET  /api/full.png                   the full-size picture
    WS   /api/live                       the live camera: RGBA frames in, paintings out
                                         (`style_transfer.web.live`)

Every /api request but /api/config and /api/sessions names its session in the
`X-Session` header. Errors are JSON `{"error": "one line"}`: 400 bad input, 403 a
page of another site (a new session or the camera asked by a page whose Origin is not
this server; any request addressed to another host, when the server listens on this
computer only), 404 unknown session, 409 a full-size picture already being painted, 413
too large, 503 no session free, 500 a bug (logged; the server goes on).

A photo with transparency is painted composited on white, and its alpha channel, resized
as the picture is, is put back on every picture of it sent back (the preview's and the
full-size PNG: RGBA); other photos' pictures are RGB.

Painting runs in worker threads (`preview_threads` for previews and camera
frames, `full_threads` for full-size pictures), never on the event loop.
"""

import concurrent.futures
import ipaddress
import logging
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.json_text import parse_json
from style_transfer.painting.config import MIN_PHOTO_PX
from style_transfer.web import live, painting
from style_transfer.web.sessions import FullPicture, ServerBusy, SessionStore, UnknownSession
from style_transfer.web.settings import ServerSettings

STATIC = Path(__file__).resolve().parent / "static"
SESSION_HEADER = "X-Session"
MAX_JSON_BYTES = 64 * 1024
# WebSocket close code of a refused live stream (RFC 6455: a message against the rules).
WS_POLICY_VIOLATION = 1008
# How long a camera's WebSocket may stay open without its first message (the stream's
# settings): a page sends it at once, and a connection that never does would be held open.
FIRST_MESSAGE_SECONDS = 30.0
# A paint request nests 2 levels (an object of lists of numbers).
MAX_JSON_DEPTH = 4
# The page's own files only; pictures come back as blob: URLs made by the page.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

log = logging.getLogger(__name__)


class RequestTooLarge(BadInput):
    """A request body over the server's limit."""


class Conflict(BadInput):
    """A request that clashes with work in progress."""


class OtherSite(BadInput):
    """A request made by a page of another site (its Origin is not this server)."""


def create_app(models, settings=ServerSettings()):
    """The app serving `models`: a list of (name, model) pairs, in the order the page lists them.

    Args:
        models: (name, `StyleTransferNetwork` or `ArbitraryStyleModel`) pairs.
        settings: A `ServerSettings`.
    """
    if not models:
        raise BadInput("the server needs at least one model.")
    served = [painting.ServedModel(name, model) for name, model in models]
    for model in served:
        model.warm_up()
    sessions = SessionStore(settings.max_sessions, settings.session_minutes * 60)
    preview_limiter = anyio.CapacityLimiter(settings.preview_threads)
    full_pool = concurrent.futures.ThreadPoolExecutor(settings.full_threads,
                                                      thread_name_prefix="full-size")

    async def page(request):
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    async def config(request):
        return JSONResponse({
            "models": [model.describe() for model in served],
            "photos": list(painting.BUNDLED_PHOTOS),
            "preview_px": settings.preview_px,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_megapixels": settings.max_megapixels,
            "max_regions": settings.max_regions,
            "max_style_images": settings.max_style_images,
            "max_soft_edge_px": painting.MAX_SOFT_EDGE_PX,
            "live_px": settings.live_px,
        })

    async def thumbnail(request):
        model = _model_at(served, request.path_params["model"])
        png = await anyio.to_thread.run_sync(model.thumbnail, request.path_params["style"],
                                             limiter=preview_limiter)
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})

    async def new_session(request):
        _check_origin(request)
        return JSONResponse({"session": sessions.create().id})

    async def uploaded_picture(request, what, read=images.read_image_bytes):
        """The picture a request carries (as `read` gives it): limited in bytes, then in pixels,
        decoded off the loop."""
        data = await _body(request, settings.max_upload_bytes)
        return await anyio.to_thread.run_sync(
            lambda: read(data, settings.max_pixels, what), limiter=preview_limiter)

    async def photo(request):
        session = _session(sessions, request)
        picture, alpha = await uploaded_picture(request, "photo", images.read_image_bytes_alpha)
        return JSONResponse(_set_photo(session, picture, settings, alpha))

    async def bundled_photo(request):
        session = _session(sessions, request)
        name = request.path_params["name"]
        if name not in painting.BUNDLED_PHOTOS:
            raise BadInput(f"unknown bundled photo {name!r}; the bundled photos are "
                           f"{', '.join(painting.BUNDLED_PHOTOS)}.")
        return JSONResponse(_set_photo(session, images.sample_photo(name), settings))

    async def regions(request):
        session = _session(sessions, request)
        data = await _body(request, settings.max_upload_bytes)
        with session.lock:
            shape = session.labels_shape()
        labels = painting.labels_from_bytes(data, shape)
        if labels.max() > settings.max_regions:
            raise BadInput(f"at most {settings.max_regions} regions; received label "
                           f"{int(labels.max())}.")
        session.set_labels(labels)
        return JSONResponse({"painted_pixels": int(np.count_nonzero(labels))})

    async def regions_png(request):
        session = _session(sessions, request)
        _, labels, _, _, _ = session.snapshot(full_size=False)
        if labels is None:
            raise BadInput("no regions are painted.")
        return Response(images.image_bytes(labels), media_type="image/png",
                        headers=SECURITY_HEADERS)

    async def add_style_image(request):
        session = _session(sessions, request)
        picture = await uploaded_picture(request, "style image")
        square = images.center_square(picture, painting.STYLE_IMAGE_PX)
        count = session.add_style_image(square, settings.max_style_images)
        return JSONResponse({"style_images": count})

    async def clear_style_images(request):
        _session(sessions, request).clear_style_images()
        return JSONResponse({"style_images": 0})

    async def style_image_png(request):
        session = _session(sessions, request)
        with session.lock:
            style_images = session.style_images
        index = request.path_params["index"]
        if not 0 <= index < len(style_images):
            raise BadInput(f"no style image {index}; this session has {len(style_images)}.")
        return Response(images.image_bytes(style_images[index]), media_type="image/png",
                        headers=SECURITY_HEADERS)

    async def preview(request):
        session = _session(sessions, request)
        paint_request = painting.PaintRequest.parse(
            await _json(request), len(served), settings.max_regions)
        picture, alpha = await anyio.to_thread.run_sync(
            lambda: _paint(served, session, paint_request, full_size=False),
            limiter=preview_limiter)
        png = await anyio.to_thread.run_sync(
            lambda: images.image_bytes(picture, compress_level=1, alpha=alpha),
            limiter=preview_limiter)
        return Response(png, media_type="image/png", headers=SECURITY_HEADERS)

    async def start_full(request):
        session = _session(sessions, request)
        paint_request = painting.PaintRequest.parse(
            await _json(request), len(served), settings.max_regions)
        with session.lock:
            if session.photo is None:
                raise BadInput("send a photo (or choose a bundled one) first.")
            if session.busy:
                raise Conflict("a full-size picture is already being painted for this page.")
            job = session.full = FullPicture()
        full_pool.submit(_paint_full, served, session, paint_request, job)
        return JSONResponse(_describe_full(job), status_code=202)

    async def full_state(request):
        session = _session(sessions, request)
        job = session.full
        if job is None:
            return JSONResponse({"state": "none"})
        return JSONResponse(_describe_full(job))

    async def full_png(request):
        session = _session(sessions, request)
        job = session.full
        if job is None or job.state != "done":
            raise BadInput("no full-size picture is ready; paint one first.")
        return Response(job.png, media_type="image/png", headers={
            **SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="painted.png"'})

    async def camera_stream(websocket):
        try:
            _check_origin(websocket)
            start = live.LiveStart.parse(await _first_message(websocket), len(served), settings)
            session = sessions.get(start.session)
            session.start_live((start.width, start.height))
        except BadInput as error:
            await websocket.send_json({"error": _shown(error)})
            await websocket.close(code=WS_POLICY_VIOLATION)
            return
        try:
            stream = live.LiveStream(served, session, start)
            await websocket.send_json({"live": True, "width": stream.width,
                                       "height": stream.height})
            await _stream_frames(websocket, stream, sessions, settings, preview_limiter)
        finally:
            session.stop_live()

    async def live_camera(websocket):
        await websocket.accept()
        try:
            await camera_stream(websocket)
        except WebSocketDisconnect:
            pass  # The page left (closed, reloaded) while it was being answered.

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/models/{model:int}/styles/{style:int}.png", thumbnail),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route("/api/photo", photo, methods=["POST"]),
        Route("/api/photo/bundled/{name}", bundled_photo, methods=["POST"]),
        Route("/api/regions", regions, methods=["PUT"]),
        Route("/api/regions.png", regions_png),
        Route("/api/style-images", add_style_image, methods=["POST"]),
        Route("/api/style-images", clear_style_images, methods=["DELETE"]),
        Route("/api/style-images/{index:int}.png", style_image_png),
        Route("/api/preview", preview, methods=["POST"]),
        Route("/api/full", start_full, methods=["POST"]),
        Route("/api/full", full_state, methods=["GET"]),
        Route("/api/full.png", full_png),
        WebSocketRoute("/api/live", live_camera),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(_ThisComputerOnly)] if _is_local(settings.host) else []
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={
        BadInput: _bad_input, Exception: _internal_error})
    app.state.sessions = sessions
    app.state.settings = settings
    return app


async def _first_message(websocket):
    message = None
    with anyio.move_on_after(FIRST_MESSAGE_SECONDS):
        message = await websocket.receive()
    if message is None:
        raise BadInput(f"the camera's first message (its settings) did not come within "
                       f"{FIRST_MESSAGE_SECONDS:g} s.")
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return _message_json(message, "the first message")


def _message_json(message, what):
    """The JSON of a WebSocket text message, refused unparsed past `MAX_JSON_BYTES` as a
    request's body is (the WebSocket's own limit, 16 MiB, would take seconds of the event
    loop to parse)."""
    text = message.get("text") or ""
    if len(text) > MAX_JSON_BYTES or len(text.encode()) > MAX_JSON_BYTES:
        raise RequestTooLarge(f"{what} is over {MAX_JSON_BYTES // 1024} KiB, the most "
                              f"accepted.")
    return parse_json(text, what, MAX_JSON_DEPTH)


async def _stream_frames(websocket, stream, sessions, settings, limiter):
    """Answers each frame with its painting and each JSON message by changing the request, until
    the page goes; a bad message gets a one-line error (`"frame": true` when it answers a
    frame) and the stream goes on."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = message.get("bytes") is not None
        try:
            sessions.get(stream.session.id)  # keeps the session alive (fails if forgotten)
            if frame:
                painted = await anyio.to_thread.run_sync(stream.paint, message["bytes"],
                                                         limiter=limiter)
                await websocket.send_bytes(painted)
                continue
            body = _message_json(message, "the message")
            stream.change(body, settings.max_regions)
        except BadInput as error:
            await websocket.send_json({"error": _shown(error), **({"frame": True} if frame
                                                                   else {})})
        except WebSocketDisconnect:
            return
        except Exception:
            log.exception("painting a camera frame failed")
            await websocket.send_json({"error": "internal error while painting (see the "
                                                "server's log).", "frame": frame})


def _set_photo(session, picture, settings, alpha=None):
    """Keeps the photo (uint8) and its preview, and with transparency (`alpha`, uint8 (H, W),
    not opaque everywhere) its alpha channel at both sizes; returns their sizes for the page."""
    picture = np.asarray(picture, np.float32)
    height, width = picture.shape[:2]
    if min(height, width) < MIN_PHOTO_PX:
        raise BadInput(f"the photo is {width} x {height} pixels; the network needs at least "
                       f"{MIN_PHOTO_PX} x {MIN_PHOTO_PX}.")
    # The preview keeps the photo's shape at `preview_px` on its long side: its short
    # side must stay paintable too.
    scale = min(1.0, settings.preview_px / max(height, width))
    if round(min(height, width) * scale) < MIN_PHOTO_PX:
        raise BadInput(f"the photo is {width} x {height} pixels, too long and thin: its "
                       f"preview ({settings.preview_px} px long) would be less than "
                       f"{MIN_PHOTO_PX} px on its short side; crop it to an aspect ratio of "
                       f"at most {settings.preview_px // MIN_PHOTO_PX}:1.")
    preview = picture
    if max(picture.shape[:2]) > settings.preview_px:
        preview = images.resize_long_side(picture, settings.preview_px)
    if alpha is not None and alpha.min() == 255:
        alpha = None  # opaque everywhere: its pictures are RGB, as a photo's without alpha
    preview_alpha = None if alpha is None else images.resize_alpha(alpha, preview.shape[:2])
    session.set_photo(np.round(picture * 255).astype(np.uint8), preview, alpha, preview_alpha)
    return {"width": picture.shape[1], "height": picture.shape[0],
            "preview_width": preview.shape[1], "preview_height": preview.shape[0]}


def _paint(served, session, paint_request, full_size, progress=None):
    """(picture, alpha channel of the photo at its size or None)."""
    photo, labels, style_images, cache, alpha = session.snapshot(full_size)
    model = served[paint_request.model]
    with session.lock:
        embeddings = session.embeddings.get(paint_request.model)
    picture, embeddings = painting.paint(model, photo, labels, paint_request, style_images,
                                         embeddings, progress, cache)
    if embeddings is not None:
        with session.lock:
            if len(session.style_images) == len(style_images):
                session.embeddings[paint_request.model] = embeddings
    return picture, alpha


def _paint_full(served, session, paint_request, job):
    """Paints the full-size picture into `job` (in a worker thread), unless the session has
    let it go before its turn (a new photo, then another picture asked): the pictures that
    nobody will see are not painted, so asking again and again cannot queue work without end."""
    if session.full is not job:
        return

    def progress(fraction):
        job.progress = 0.95 * fraction  # the rest is encoding the PNG

    try:
        picture, alpha = _paint(served, session, paint_request, full_size=True,
                                progress=progress)
        job.png = images.image_bytes(picture, alpha=alpha)
        job.size = (picture.shape[1], picture.shape[0])
        job.progress = 1.0
        job.state = "done"
    except BadInput as error:
        job.error, job.state = _shown(error), "failed"
    except Exception:
        log.exception("painting a full-size picture failed")
        job.error, job.state = "internal error while painting (see the server's log).", "failed"


def _describe_full(job):
    described = {"state": job.state, "progress": round(job.progress, 3)}
    if job.size is not None:
        described["width"], described["height"] = job.size
    if job.error is not None:
        described["error"] = job.error
    return described


def _model_at(served, index):
    if not 0 <= index < len(served):
        raise BadInput(f"model must be 0 to {len(served) - 1}; received {index}.")
    return served[index]


def _check_origin(connection):
    """Refuses what a page of another site asks: a browser lets any page POST here or open a
    WebSocket here (it only hides the answers), and with new sessions it would push the
    visitors' own out. Such requests name their page's origin; the page's own, and clients
    that are not browsers, name this server or nothing."""
    origin = connection.headers.get("origin")
    host = connection.headers.get("host", "")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        raise OtherSite(f"requests from pages of other sites are refused; received one from "
                        f"{origin[:100]!r}.")


def _is_local(address):
    """Whether the server listens on this computer only (`localhost` or a loopback address)."""
    try:
        return address == "localhost" or ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _names_this_computer(host):
    """Whether a request's Host header (`localhost:8765`, `127.0.0.1:8765`, `[::1]:8765`) names
    this computer; a request without one is not a browser's."""
    if host is None:
        return True
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    return name == "localhost" or name.endswith(".localhost") or _is_local(name)


class _ThisComputerOnly:
    """Refuses requests that name another host, when the server listens on this computer only.

    A page of another site cannot read this server's answers (the browser keeps them from
    it) unless its own name comes to point here: with DNS rebinding, `evil.example`
    resolves to 127.0.0.1 once the page is loaded, and the browser then treats this server
    as that site. Such requests still carry the site's name in their Host header, which the
    page's own requests (`localhost`, `127.0.0.1`, `[::1]`) never do.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers") or ()).get(b"host")
            if not _names_this_computer(None if host is None else host.decode("latin-1")):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                    return
                response = JSONResponse(
                    {"error": "this page answers requests for this computer (localhost) only; "
                              f"received one for {host.decode('latin-1')[:100]!r}."},
                    status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _session(sessions, request):
    return sessions.get(request.headers.get(SESSION_HEADER))


async def _body(request, limit):
    """The request's body, refused (413) past `limit` bytes without reading further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"the upload is {int(declared) / 2**20:.1f} MiB; at most "
                              f"{limit / 2**20:.1f} MiB are accepted.")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise RequestTooLarge(f"the upload is over {limit / 2**20:.1f} MiB, the most "
                                  f"accepted.")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise BadInput("the request has no body; send the file's bytes.")
    return data


async def _json(request):
    data = await _body(request, MAX_JSON_BYTES)
    return parse_json(data, "the request", MAX_JSON_DEPTH)


_STATUS = {OtherSite: 403, UnknownSession: 404, Conflict: 409, RequestTooLarge: 413,
           images.ImageTooLargeError: 413, ServerBusy: 503}


async def _bad_input(request, error):
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
    return JSONResponse({"error": _shown(error)}, status_code=status)


def _shown(error):
    """The first line of a `BadInput`, for the page: the fields it names (`strength`) are the
    request's own field names."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return message.replace("`", "")


async def _internal_error(request, error):
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return JSONResponse({"error": "internal error (see the server's log)."}, status_code=500)
