/// An async HTTP client on libcurl: one multi handle driven by one dedicated thread.
///
/// Transfers run concurrently and reuse connections (HTTP/2 multiplexing when the server
/// offers it over TLS). Cancelling the waiting task removes its transfer. The client never
/// blocks Swift's cooperative threads.
public final class CurlHTTPClient: Sendable {
    /// Connection and safety settings of a client.
    public struct Configuration: Sendable {
        /// Most connections to one host at once (default 32); more transfers queue inside curl.
        public var maxConnectionsPerHost: Int
        /// Most connections in total (default 64).
        public var maxTotalConnections: Int
        /// Largest response body accepted; a larger one aborts with `responseTooLarge` (default 16 MiB).
        public var maxResponseBytes: Int
        /// A CA bundle file for TLS peer verification; nil uses the system store (default nil).
        public var caBundlePath: String?

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            maxConnectionsPerHost: Int = 32,
            maxTotalConnections: Int = 64,
            maxResponseBytes: Int = 16 << 20,
            caBundlePath: String? = nil
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxTotalConnections = maxTotalConnections
            self.maxResponseBytes = maxResponseBytes
            self.caBundlePath = caBundlePath
        }
    }

    private let loop: CurlMultiLoop
    private let maxResponseBytes: Int

    /// Starts the curl thread; throws when libcurl cannot create a multi handle.
    public init(configuration: Configuration = Configuration()) throws {
        self.loop = try CurlMultiLoop(configuration: configuration)
        self.maxResponseBytes = configuration.maxResponseBytes
    }

    deinit {
        loop.shutdown()
    }

    /// Sends a request and returns the complete response, or throws `CurlHTTPError`.
    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try Task.checkCancellation()
        let box = TransferBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let transfer = CurlTransfer(request: request, maxResponseBytes: maxResponseBytes, continuation: continuation)
                if box.register(transfer) {
                    transfer.markCancelled()
                }
                loop.submit(transfer)
            }
        } onCancel: {
            if let transfer = box.cancel() {
                loop.cancel(transfer)
            }
        }
    }

    /// Stops the curl thread; in-flight transfers fail with `CurlHTTPError.shutdown`. Idempotent.
    public func shutdown() {
        loop.shutdown()
    }
}
