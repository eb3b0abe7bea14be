"""The queue worker: receives SQS messages, runs a pluggable handler on each, never loses one.

Self-contained on purpose (boto3 and the standard library only) so that its container image stays
small; it does not import the Lambda packages under src/.
"""
