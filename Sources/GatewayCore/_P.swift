enum _PGatewayCore {}
