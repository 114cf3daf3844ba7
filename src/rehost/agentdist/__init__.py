"""The portable agent as the control plane serves it: the zipapp and its installer."""
