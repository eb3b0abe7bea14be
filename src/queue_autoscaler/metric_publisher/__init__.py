"""The metric publisher Lambda: BacklogPerInstance and its inputs, every minute."""
