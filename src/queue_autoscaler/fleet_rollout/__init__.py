"""Fleet rollout: replaces outdated EC2 workers after a stack update (see scaling.rollout)."""
