"""Demo data: a synthetic e-commerce shop's clickstream, and seeding it through the ingest path.

`catalogue` is the demo shop's product list (the web shop shows the same one), `devices` the
browsers, screens, locales and addresses visitors come with, `traffic` the deterministic
generator of HTTP batches as the SDK sends them (shared with `bench/`), and `seed` feeds that
traffic through the real ingest service so a new installation has a populated dashboard.
"""
