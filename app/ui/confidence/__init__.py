"""Token-level confidence in the window: the shading scale, the coloured text with its
hesitation strip, the controls, and the consensus fork view."""
