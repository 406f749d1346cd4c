"""Many nodes: which nodes own an object, and how a gateway reaches them."""
