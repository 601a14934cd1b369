"""The look shared by every figure (``figures.style``): one save writes a PNG and a PDF of the same layout."""

import numpy as np

from rnn_dynamics.outputs.figures import style


def panels_with_colourbar():
    fig, axes = style.panels(3, "a model's title, long enough to need its room")
    for ax in axes:
        ax.plot(np.arange(10), np.arange(10) ** 3)
        ax.set(xlabel="token", ylabel="projection onto PC 1")
    fig.colorbar(axes[2].imshow(np.random.default_rng(0).uniform(size=(5, 5))), ax=axes[2])
    return fig


def test_the_pdf_beside_the_png_keeps_the_layout_the_constrained_engine_gives_it(tmp_path):
    """The PDF is drawn with the positions computed for the PNG; a PDF laid out on its own gets the same ones
    (to a thousandth of the figure: the engine's own difference between the two resolutions)."""
    saved = panels_with_colourbar()
    style.save(saved, tmp_path / "saved.png")
    assert (tmp_path / "saved.png").stat().st_size > 10_000 and (tmp_path / "saved.pdf").stat().st_size > 1_000
    alone = panels_with_colourbar()
    alone.savefig(tmp_path / "alone.pdf")
    positions = [np.array([ax.get_position().bounds for ax in fig.axes]) for fig in (saved, alone)]
    assert positions[0].shape == (4, 4)
    np.testing.assert_allclose(positions[0], positions[1], atol=1e-3)
    assert positions[0][0][0] < 0.1  # laid out by the engine, not at matplotlib's default margin (0.125)
