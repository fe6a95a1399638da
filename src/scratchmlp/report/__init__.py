"""Pictures: training curves, prediction grids, confusion matrices.

matplotlib is imported here only, when used.
"""

from .confusion import plot_confusion  # noqa: F401
from .curves import Animator, plot_curves  # noqa: F401
from .images import plot_predictions, plot_seen, show_images  # noqa: F401
