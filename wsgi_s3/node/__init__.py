"""A storage node: its internal API (behind the cluster token) over one Store."""
