"""What a stack is made of: its validated config, its foundation and its clinical systems."""
