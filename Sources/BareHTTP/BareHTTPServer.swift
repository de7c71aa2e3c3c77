import Hummingbird
import Logging
import NIOCore

/// The limit of the gateway's HTTP layer, for `make bench`: a Hummingbird 2 server that reads a
/// POST body and answers fixed bytes, with no routing work beyond one path and no JSON.
public enum BareHTTPServer {
    /// An application answering every `POST path` with `body` as `application/json`.
    public static func application(
        body: [UInt8], path: String, port: Int, logger: Logger, onServerRunning: @escaping @Sendable (any Channel) async -> Void
    ) -> some ApplicationProtocol {
        let answer = ByteBuffer(bytes: body)
        let router = Router()
        router.post(RouterPath(path)) { request, _ in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare-http"),
            onServerRunning: onServerRunning, logger: logger)
    }
}
