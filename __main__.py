"""The clinical AI platform: validate the stack config, then build the foundation and each system."""

from stacks.config import load_stack_config
from stacks.foundation import deploy

deploy(load_stack_config())
