"""`qas demo`: the whole system end to end on an emulated AWS (docs/demo.md).

cli (options, entry point) -> stack (deploy template.yaml on the emulator) -> runner (the loop over
demo minutes) using lambdas (warm function runtimes on their EventBridge rules), control (CloudWatch
datapoints into qas.model.control_plane), fleet (one worker process per instance or task) and report.
"""
