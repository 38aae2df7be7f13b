"""The application: a simulator wired from the parts, the runner, the CLI, benchmarks, training, validation."""
