"""What crosses a process boundary, declared once: the wire shapes (pydantic models, one module per resource)
and the route table (``routes``) the controller, its client, the REST face and ``api/openapi.yaml`` are made from."""
