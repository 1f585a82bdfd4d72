"""Master keys over their life: status, rotation (re-wrapping data keys), retirement."""
