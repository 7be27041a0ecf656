"""The charts of docs/performance.md, drawn by the benchmarks that measure them."""

from __future__ import annotations

from pathlib import Path

from tests.support.workdir import REPO

CHARTS = REPO / "docs" / "performance"


def bar_chart(name: str, title: str, unit: str, bars: dict[str, float]) -> Path:
    """A horizontal bar per label, its value written beside it; saved as
    docs/performance/NAME.png and returned."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib import pyplot

    labels, values = list(bars), list(bars.values())
    figure, axes = pyplot.subplots(figsize=(10, 0.5 * len(labels) + 1.4), layout="constrained")
    shown = axes.barh(labels, values, color="#3b75af")
    axes.bar_label(shown, labels=[f"{v:.3g}" for v in values], padding=3)
    axes.invert_yaxis()  # first label on top, as in the table
    axes.set_xlabel(unit)
    figure.suptitle(title)
    axes.margins(x=0.15)
    CHARTS.mkdir(parents=True, exist_ok=True)
    path = CHARTS / f"{name}.png"
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    print(f"chart: {path.relative_to(REPO)}")
    return path
