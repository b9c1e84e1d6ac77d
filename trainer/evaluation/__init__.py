"""The evaluation wing: who is compared with whom, error rates, the DTW
reference, ``sigpad-train evaluate`` and its DET plots.

No TensorFlow here (tests/trainer/evaluation/test_no_tensorflow.py): the
benchmarks and cross-validation score int8 files through the edge, and the
DTW reference needs only dtaidistance. Nothing here imports the training side
of the trainer; training imports this.
"""
