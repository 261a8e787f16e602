"""Helpers shared by the test suites: real servers, real redis-servers, a tiny client."""
