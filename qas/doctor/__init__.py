"""`qas doctor`: read-only checks of an AWS account before a deploy and of a stack after one.

`preflight` catches what CloudFormation and moto cannot (the ECS service-linked role, subnets that
cannot reach AWS, a security group without outbound 443, a missing image, a parameter combination
the template's Rules reject, quotas, a warm pool AWS would refuse or hibernation cannot serve);
`stack` explains a deployed stack (alarms, stale metrics, the tuner's last decision, the DLQ, workers
that failed to start, the warm pool); `fleet` reads an existing group or service before the stack
attaches to it. Every finding names the fix.
"""
