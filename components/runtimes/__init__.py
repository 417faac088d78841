"""What runs the containers: one folder per runtime, each lowering the same specs and hardening contract."""
