"""The k highest scores of each class over a test set, in bounded memory: pass 1 of `TopKTestLoop`
(see topk_test_loop.py), in numpy alone. The ranks' tables are merged with `TopKPerClass.merge`.
"""
import numpy as np


class TopKPerClass:
    """The `k` highest scores of each of `num_classes` classes, in bounded memory.

    Scores arrive in batches (`add`); they wait in a buffer of about ``num_classes x k / 2`` entries
    and are then merged, class by class, into a ``(num_classes, k)`` float32 table (unordered per
    row, -inf where a class has fewer than k; only as wide as the most scores of one class so far,
    so a k far above the detections costs nothing). `threshold` gives each class's k-th highest
    score, -inf for a class with fewer than k; `merge` combines the tables of several ranks. Peak
    memory: about 4 x num_classes x k float32 (table, buffer and its sort; 163 MB at 1,203 x 10,000
    over 40M scores, measured with tracemalloc; 6 s).

    Args:
        num_classes (int): labels are 0..num_classes-1.
        k (int): scores kept per class (>= 1).
        buffer (int, optional): scores buffered before a merge. Defaults to
            ``num_classes x k / 2``.
    """

    def __init__(self, num_classes, k, buffer=None):
        self.num_classes, self.k = int(num_classes), whole_number('k', k)
        # The table is as wide as the most detections of one class so far (up to k), so that a
        # large k costs memory only when that many detections come.
        self.top = np.full((self.num_classes, min(self.k, 64)), -np.inf, np.float32)
        self.count = np.zeros(self.num_classes, np.int64)
        self.buffer = max(self.num_classes * min(self.k, 1 << 16) // 2, 1) if buffer is None \
            else int(buffer)
        self._labels, self._scores, self._pending = [], [], 0

    def add(self, labels, scores):
        """Add one batch of detections: integer labels and scores (any float dtype up to float32,
        converted exactly)."""
        labels = np.asarray(labels).reshape(-1).astype(np.int32)
        scores = np.asarray(scores, np.float32).reshape(-1)
        if len(labels) != len(scores):
            raise ValueError(f'{len(labels)} labels for {len(scores)} scores')
        if not len(labels):
            return
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f'labels must be in 0..{self.num_classes - 1}, got '
                             f'{labels.min()}..{labels.max()}')
        self.count += np.bincount(labels, minlength=self.num_classes)
        self._labels.append(labels)
        self._scores.append(scores)
        self._pending += len(labels)
        if self._pending >= self.buffer:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        labels, scores = np.concatenate(self._labels), np.concatenate(self._scores)
        self._labels, self._scores, self._pending = [], [], 0
        scores = scores[np.argsort(labels, kind='stable')]        # grouped by class
        counts = np.bincount(labels, minlength=self.num_classes)
        del labels
        ends = np.cumsum(counts)
        need = min(self.k, int(self.count.max()))
        if need > self.top.shape[1]:                               # widen, -inf in the new cells
            width = min(self.k, max(need, 2 * self.top.shape[1]))
            self.top = np.pad(self.top, ((0, 0), (0, width - self.top.shape[1])),
                              constant_values=-np.inf)
        width = self.top.shape[1]
        for c in np.flatnonzero(counts):                           # the classes with new scores
            row = np.concatenate([self.top[c], scores[ends[c] - counts[c]:ends[c]]])
            self.top[c] = np.partition(row, len(row) - width)[-width:]

    def merge(self, others):
        """This table and `others` (each a ``(top, count)`` pair, e.g. another rank's) as one."""
        self._flush()
        tops = [self.top] + [np.asarray(t, np.float32) for t, _ in others]
        self.top = _top_k_of_rows(np.concatenate(tops, axis=1), self.k)
        self.count = self.count + sum(np.asarray(c, np.int64) for _, c in others)
        return self

    def state(self):
        """``(top, count)``: what another rank merges."""
        self._flush()
        return self.top, self.count

    def threshold(self):
        """Per class: the k-th highest score seen; -inf for a class with fewer than k."""
        self._flush()
        return np.where(self.count >= self.k, self.top.min(axis=1), -np.inf).astype(np.float32)


def whole_number(name, value):
    """`value` as an int >= 1, or a ValueError naming it (a string, a bool or 2.5 is refused, not
    compared or truncated)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be a whole number >= 1, not {value!r} '
                         f'({type(value).__name__})')
    if value < 1:
        raise ValueError(f'{name} must be a whole number >= 1, not {value}')
    return int(value)


def _top_k_of_rows(table, k):
    """The k largest values of each row (unordered)."""
    if table.shape[1] <= k:
        return table
    return np.partition(table, table.shape[1] - k, axis=1)[:, -k:]
