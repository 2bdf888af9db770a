"""The team console: ``stagekeeper serve``, server-rendered pages and an HTTP API over the
same service the CLI uses (an optional extra, ``stagekeeper[server]``: Starlette, Jinja2,
uvicorn). See ``app.create_app``."""
