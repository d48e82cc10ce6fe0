"""Thin Lambda handlers: parse input, build dependencies, call one clickstream function."""
