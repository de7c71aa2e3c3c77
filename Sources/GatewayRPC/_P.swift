enum _PGatewayRPC {}
