enum _PGatewayConfig {}
