"""SMC-compatible RPC endpoint (`POST /`, x-acs-action, ACS3-HMAC-SHA256).

Mount with `create_app(settings, routers=[rehost.api.smc.router.build_router()])`.
"""
