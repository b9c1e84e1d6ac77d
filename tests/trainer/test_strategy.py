"""One training step under MirroredStrategy over two logical CPU devices.

Logical devices must be configured before TensorFlow initialises, so the step
runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
from trainer.data import SigSet
from trainer.recipe import TrainConfig
from trainer.training_loop import fit_encoder, get_strategy
rng = np.random.default_rng(0)
data = SigSet(rng.normal(size=(24, 32, 8)).astype("float32"), np.repeat(np.arange(4), 6),
              np.tile([True] * 4 + [False] * 2, 4))
cfg = TrainConfig(epochs=1, pairs_per_epoch=32, batch_size=16, dim=8, width=4,
                  strategy="mirrored", verbose=0)
enc, hist = fit_encoder(data, cfg)
print(json.dumps({"replicas": get_strategy("mirrored").num_replicas_in_sync,
                  "loss": hist["loss"], "finite": bool(np.all(np.isfinite(enc.get_weights()[0])))}))
"""


@pytest.mark.slow
def test_mirrored_strategy_step_on_two_logical_cpus():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["replicas"] == 2
    assert len(res["loss"]) == 1 and res["finite"]
