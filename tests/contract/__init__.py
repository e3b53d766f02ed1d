"""Throwaway models that keep the genericity promise: CONSOLE_MODELS=tests.contract.models."""
