import Foundation
import LockedState

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback HTTP/1.1 server over plain sockets that answers each request it reads in full with
/// the next scripted action (one request per connection unless kept alive): for tests of answers no real server
/// gives on purpose (a reset mid-body, headers that never come, a body cut short).
///
/// Every connection runs on its own thread (blocking socket calls must not hold a cooperative-pool thread).
public final class ScriptedHTTPServer: Sendable {
    /// What the server does with one request once it has read it.
    public enum Action: Sendable {
        /// Writes these bytes, then closes the connection.
        case respond(Data)
        /// Writes these bytes, then resets the connection (RST, no orderly close).
        case resetAfter(Data)
        /// Never answers; closes when the client does (or the server stops).
        case hang
        /// Writes these bytes (a response without `Connection: close`) and reads the next request on the same connection.
        case respondKeepingAlive(Data)
        /// Closes the connection and stops listening, holding the request it read: an upstream that died mid-call.
        case dieHoldingTheRequest
    }

    private struct State {
        var script: [Action] = []
        var requests = 0
        var open: Set<Int32> = []
        var stopped = false
    }

    /// Its TCP port on 127.0.0.1.
    public let port: Int
    private let listener: Int32
    private let state = Locked(State())

    /// Listens on a free loopback port and starts accepting.
    public init() throws {
        guard let (descriptor, port) = LoopbackPort.listening(backlog: 64) else { throw ScriptedHTTPServerFailure() }
        listener = descriptor
        self.port = port
        Thread { [self] in acceptLoop() }.start()
    }

    /// Queues actions for the next requests, in order; a request with none queued is answered 500.
    public func enqueue(_ actions: [Action]) {
        state.withLock { $0.script += actions }
    }

    /// How many requests it has read in full (what an upstream really received).
    public var requests: Int { state.withLock { $0.requests } }

    /// Stops listening (the port then refuses connections) and ends every open connection.
    public func stop() {
        let open = state.withLock { state -> Set<Int32> in
            guard !state.stopped else { return [] }
            state.stopped = true
            return state.open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for descriptor in open { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Runs `body` with a new server, stopped afterwards whatever happens.
    public static func with<T: Sendable>(_ body: (ScriptedHTTPServer) async throws -> T) async throws -> T {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        return try await body(server)
    }

    /// A complete HTTP/1.1 response closing its connection (unless `keepAlive`): `status`, a
    /// `Content-Type`, the `extraHeaders`, and a `Content-Length` of `declaredLength` (default: the body's).
    public static func response(
        status: Int, contentType: String = "application/json", extraHeaders: [String] = [], body: Data, declaredLength: Int? = nil,
        keepAlive: Bool = false
    ) -> Data {
        let head =
            (["HTTP/1.1 \(status) Scripted", "Content-Type: \(contentType)", "Content-Length: \(declaredLength ?? body.count)"]
            + (keepAlive ? [] : ["Connection: close"]) + extraHeaders).joined(separator: "\r\n") + "\r\n\r\n"
        return Data(head.utf8) + body
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.open.insert(connection)
                return true
            }
            guard admitted else {
                close(connection)
                return
            }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer {
            state.withLock { _ = $0.open.remove(connection) }
            close(connection)
        }
        while readRequest(connection) {
            let action = state.withLock { state -> Action in
                state.requests += 1
                return state.script.isEmpty
                    ? .respond(Self.response(status: 500, body: Data(#"{"title":"unscripted"}"#.utf8))) : state.script.removeFirst()
            }
            guard case .respondKeepingAlive(let bytes) = action else {
                perform(action, on: connection)
                return
            }
            write(bytes, to: connection)
        }
    }

    private func perform(_ action: Action, on connection: Int32) {
        switch action {
        case .respond(let bytes), .respondKeepingAlive(let bytes):
            write(bytes, to: connection)
        case .dieHoldingTheRequest:
            stop()
        case .resetAfter(let bytes):
            write(bytes, to: connection)
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        case .hang:
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while buffer.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
    }

    /// Reads one request's head and its `Content-Length` body; false when the client left first.
    private func readRequest(_ connection: Int32) -> Bool {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        var needed = Int.max
        while received.count < needed {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            received += buffer[0..<count]
            if headEnd == nil, let end = received.firstRange(of: separator)?.upperBound {
                headEnd = end
                let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                needed = end + (length ?? 0)
            }
        }
        return true
    }

    private func write(_ bytes: Data, to connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            sent += written
        }
    }
}

/// The scripted server could not listen on a loopback port.
public struct ScriptedHTTPServerFailure: Error {}
