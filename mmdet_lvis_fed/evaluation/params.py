"""lvis-api's fixed evaluation parameters (`lvis.eval.Params`), built as lvis-api builds them."""
import numpy as np

# Same construction as lvis-api: np.arange drifts, linspace does not.
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RNGS = np.array([[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2],
                      [96 ** 2, 1e5 ** 2]], np.float64)
AREA_LABELS = ('all', 'small', 'medium', 'large')
FREQ_GROUPS = ('r', 'c', 'f')
