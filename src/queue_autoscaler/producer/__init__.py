"""The producer Lambda: load-test messages for the work queue."""
