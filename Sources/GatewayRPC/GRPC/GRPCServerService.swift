import GRPCCore
import GRPCNIOTransportHTTP2
import GatewayConfig
import Logging
import ServiceLifecycle

/// Runs the native gRPC server (HTTP/2, h2c or TLS) beside the HTTP one, as a lifecycle service:
/// it stops accepting RPCs on graceful shutdown and lets those in flight finish.
struct GRPCServerService: Service {
    let configuration: GRPCConfiguration
    let services: [any RegistrableRPCService]
    /// The largest request message accepted (`limits.max_body_bytes`).
    let maxRequestBytes: Int
    /// The `listen.*` connection limits, applied to this port too.
    let limits: GRPCConnectionLimits
    /// Told the bound port once the server listens.
    let onListening: @Sendable (Int) async -> Void
    let logger: Logger

    func run() async throws {
        let security: HTTP2ServerTransport.Posix.TransportSecurity
        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile {
            security = .tls(certificateChain: [.file(path: certificate, format: .pem)], privateKey: .file(path: key, format: .pem))
        } else {
            security = .plaintext
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port), transportSecurity: security,
            config: .defaults {
                $0.rpc.maxRequestPayloadSize = maxRequestBytes
                // Advertised, so that clients queue streams past it instead of losing the connection to a GOAWAY.
                $0.http2.maxConcurrentStreams = configuration.maxConcurrentStreams
                $0.channelDebuggingCallbacks = limits.callbacks
                // The GOAWAY at the maximum age, which lets the connection's calls finish; `limits` closes it after the grace.
                $0.connection.maxAge = .milliseconds(configuration.maxConnectionAgeMs)
                $0.connection.maxGraceTime = .milliseconds(configuration.maxConnectionAgeGraceMs)
            })
        let server = GRPCServer(transport: TimeoutScreeningTransport(base: transport), services: services)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await server.serve()
                } onGracefulShutdown: {
                    server.beginGracefulShutdown()
                }
            }
            if let port = try await transport.listeningAddress.ipv4?.port {
                logger.info(
                    "grpc listening", metadata: ["host": "\(configuration.host)", "port": "\(port)", "tls": "\(configuration.tlsKeyFile != nil)"])
                await onListening(port)
            }
        }
    }
}
