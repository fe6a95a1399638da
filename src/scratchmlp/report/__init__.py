"""Pictures: training curves, prediction grids. matplotlib is imported here only, when used."""

from .curves import Animator, plot_curves  # noqa: F401
from .images import plot_predictions, show_images  # noqa: F401
