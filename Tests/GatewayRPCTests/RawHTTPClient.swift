import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A bare TCP client for what curl will not do: half-close its side after the request, then read.
/// Runs on its own thread (blocking socket calls must not hold a cooperative-pool thread).
enum RawHTTPClient {
    /// Sends `request` to 127.0.0.1:`port`, shuts down its sending side, and reads until the server
    /// closes (or 30 s pass); returns what it read.
    static func halfClosedExchange(port: Int, request: String) async -> String {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: exchange(port: port, request: Array(request.utf8)))
            }.start()
        }
    }

    private static func exchange(port: Int, request: [UInt8]) -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return "" }
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { return "" }
            sent += written
        }
        shutdown(descriptor, Int32(SHUT_WR))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
