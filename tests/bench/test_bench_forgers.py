"""bench_forgers' gap: forgeries' mean minus genuine mean per writer, quartiles over writers, by hand."""

import numpy as np

from bench.bench_forgers import gap_quartiles


def test_the_gap_is_each_writers_forgery_mean_less_its_genuine_mean():
    def writer(genuine, forged):
        return np.array(genuine, float), np.array(forged, float)
    # gaps of (time, size): writer 1 (+0.2, 0.0), writer 2 (+0.4, -0.1), writer 3 (+0.6, +0.1)
    writers = [writer([[1.0, 2.0], [1.2, 2.2]], [[1.3, 2.1]]),          # means (1.1, 2.1) -> (1.3, 2.1)
               writer([[0.0, 0.0]], [[0.3, -0.2], [0.5, 0.0]]),          # (0, 0) -> (0.4, -0.1)
               writer([[2.0, 1.0], [2.0, 1.0], [2.0, 1.0]], [[2.6, 1.1]])]
    got = gap_quartiles(writers, ("time", "size"))
    # numpy's linear percentiles of three values a < b < c: 25th (a + b) / 2, median b, 75th (b + c) / 2
    assert got == {"time": [0.3, 0.4, 0.5], "size": [-0.05, 0.0, 0.05]}
