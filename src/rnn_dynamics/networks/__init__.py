"""The networks layer: recurrent classifiers and how they are trained.

``cells`` (each architecture's update equations with closed-form Jacobians), ``scan`` (a cell over whole
sequences), ``model`` (embedding, stacked recurrent layers, readout; a layer or the stack as a system),
``training`` (the loop, resumable checkpoints, the final evaluation), ``imported`` (networks the pipeline did not
train, checked and turned into its classifier).
"""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = ["cells", "scan", "model", "training", "imported"]
