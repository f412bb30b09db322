"""A local web page to paint photos: `style-transfer serve`.

- `settings.py`  the server's limits and defaults (one source for the command line and the app)
- `sessions.py`  each visitor's photo, painted regions and pictures, in memory, by session id
- `painting.py`  what a page asks for (a blend, regions, photo options) as `stylize` calls
- `app.py`       the Starlette app: the page, its JSON and picture endpoints, error responses
- `static/`      the page itself: plain HTML, CSS and JavaScript, no build step

Nothing a visitor sends names a file: models are the ones the server was started
with, photos and style images arrive as bytes and live in memory. The page runs
entirely on 127.0.0.1 unless `--host` says otherwise.
"""
