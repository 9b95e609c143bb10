"""Charts render to accessible SVG once per spec and data version."""

from __future__ import annotations

from healthycity.core import charts


def _spec(values: list[int]) -> dict[str, object]:
    return {
        "data": {"values": [{"area": f"A{i}", "value": v} for i, v in enumerate(values)]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "area", "type": "nominal"},
            "y": {"field": "value", "type": "quantitative"},
        },
    }


def test_svg_is_an_image_with_an_escaped_name() -> None:
    svg = str(charts.render_svg(_spec([1, 2]), 'Values by area, "A1" highest <b>'))
    assert svg.startswith("<svg")
    assert 'role="img"' in svg
    assert 'aria-label="Values by area, &quot;A1&quot; highest &lt;b&gt;"' in svg
    assert "<title>Values by area" in svg


def test_cached_by_spec_including_data() -> None:
    before = charts.cache_info()["entries"]
    charts.render_svg(_spec([3, 4]), "x")
    charts.render_svg(_spec([3, 4]), "y")
    assert charts.cache_info()["entries"] == before + 1
    charts.render_svg(_spec([3, 5]), "x")
    assert charts.cache_info()["entries"] == before + 2
