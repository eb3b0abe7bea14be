"""Pure scaling logic shared by the Lambdas, the worker, the simulator and the demo. No boto3 here."""
