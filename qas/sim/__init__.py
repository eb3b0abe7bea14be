"""Discrete-event simulator of a queue, a worker fleet and AWS's scaling control plane.

It runs the same decision code as the Lambdas (`scaling.backlog`, `scaling.target`) and the
control-plane model the demo uses (`qas.model.control_plane`).
"""
