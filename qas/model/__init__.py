"""A model of what AWS does with the template's alarms and scaling policies, for the simulator
and the demo (pure; not in the Lambda bundle: no Lambda runs it)."""
