"""The target tuner Lambda: retunes the target-tracking policy's TargetValue every hour."""
