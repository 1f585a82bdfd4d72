"""Campaigns: marketing messages to everyone a purpose's decision allows, composed by staff from
sandboxed templates, queued in batches and delivered on the job queue; and the stored templates
the business's systems send transactional and mandatory messages with."""
