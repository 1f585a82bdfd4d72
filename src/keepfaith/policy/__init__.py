"""Policy as code: schema, loader, versions, materiality, the generated notice."""
