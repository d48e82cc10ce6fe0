"""The local runtime: moto server for AWS, embedded PostgreSQL, and a local API Gateway front."""
