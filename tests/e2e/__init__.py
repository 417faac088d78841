"""`make e2e`: the shipped Docker stacks deployed for real by a real Pulumi CLI on a real dockerd."""
