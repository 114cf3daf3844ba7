"""Use cases of the control plane: one transaction each; the only code that changes state.

Every function takes a `ServiceContext` (`services/context.py`) first; ids are the NewTypes of
`rehost.domain.ids`, errors are `rehost.domain.errors.RehostError` subclasses, values are the
frozen dataclasses of `rehost.domain.models`. Each module is one noun (`jobs`, `runs`,
`sources`, `dataplane`, …); its functions and their one-line docstrings are the API, so no
list is kept here (`python -m pydoc rehost.services.<module>` shows one).
"""
