"""Charts: Vega-Lite specs rendered to inline SVG on the server.

One spec serves the page, the static export and the PDF report, with no browser and no
JavaScript. Rendering costs tens of milliseconds, so SVG is cached by the hash of the
whole spec — data included — which makes the data version part of the key for free.
Every chart is given a text alternative here and a table twin by the page that shows it.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections import OrderedDict
from typing import Any

import orjson
from markupsafe import Markup

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_CACHE_SIZE = 512
_cache: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()
_SVG_OPEN = re.compile(r"<svg\b([^>]*)>")


def spec_key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _render(spec: dict[str, Any]) -> str:
    import vl_convert

    return str(vl_convert.vegalite_to_svg(spec))


def render_svg(spec: dict[str, Any], description: str) -> Markup:
    """Render ``spec`` to SVG marked up as an image with ``description`` as its name.

    ``description`` is the text alternative: say what the chart shows and its main
    finding, since the numbers themselves are in the table twin beside it.
    """
    full = {"$schema": VEGA_LITE_SCHEMA, "config": _CONFIG, **spec}
    key = spec_key(full)
    with _lock:
        svg = _cache.get(key)
        if svg is not None:
            _cache.move_to_end(key)
    if svg is None:
        svg = _render(full)
        with _lock:
            _cache[key] = svg
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    label = html.escape(description, quote=True)
    titled = _SVG_OPEN.sub(
        lambda m: (
            f'<svg{m.group(1)} role="img" aria-label="{label}" focusable="false">'
            f"<title>{label}</title>"
        ),
        svg,
        count=1,
    )
    return Markup(titled)  # noqa: S704 - SVG from our own spec; labels escaped above


def cache_info() -> dict[str, int]:
    with _lock:
        return {"entries": len(_cache), "capacity": _CACHE_SIZE}


# NHS design system colours and type, so charts sit with the page around them.
NHS_BLUE = "#005eb8"
NHS_DARK_GREY = "#425563"
NHS_TEXT = "#212b32"
COMPARISON_COLOURS: dict[str, str] = {
    "better": "#007f3b",
    "similar": "#ffb81c",
    "worse": "#d5281b",
    "higher": "#41b6e6",
    "lower": "#330072",
    "not compared": "#d8dde0",
}

_CONFIG: dict[str, Any] = {
    "font": "Arial, Helvetica, sans-serif",
    "background": "white",
    "axis": {"labelColor": NHS_TEXT, "titleColor": NHS_TEXT, "labelFontSize": 12},
    "legend": {"labelColor": NHS_TEXT, "titleColor": NHS_TEXT, "labelFontSize": 12},
    "view": {"stroke": None},
}
