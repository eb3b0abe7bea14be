"""The target tuner Lambda: retunes the target-tracking TargetValue on a schedule (every 5 minutes)."""
