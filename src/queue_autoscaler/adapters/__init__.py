"""Small boto3 adapters: the only code in the Lambda bundle that talks to AWS."""
