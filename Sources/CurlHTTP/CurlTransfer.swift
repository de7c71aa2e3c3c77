import CCurl
import Foundation
import LockedState

/// One in-flight transfer: its easy handle, the bytes read so far and the waiting continuation.
///
/// Only the curl thread touches the handle, the buffers and the continuation; other threads
/// only call `markCancelled()`, which is guarded by a mutex.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPClientRequest
    let maxResponseBytes: Int
    private let continuation: CheckedContinuation<HTTPClientResponse, any Error>
    private let cancelled = Locked(false)

    // Curl-thread state.
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var body = Data()
    var headers: [(name: String, value: String)] = []
    var exceededLimit = false
    private var finished = false

    init(request: HTTPClientRequest, maxResponseBytes: Int, continuation: CheckedContinuation<HTTPClientResponse, any Error>) {
        self.request = request
        self.maxResponseBytes = maxResponseBytes
        self.continuation = continuation
    }

    /// Records that the waiting task was cancelled; returns whether this is the first time.
    func markCancelled() {
        cancelled.withLock { $0 = true }
    }

    /// Whether the waiting task was cancelled.
    var isCancelled: Bool { cancelled.withLock { $0 } }

    /// Resumes the waiting task exactly once and frees the curl resources (curl thread only).
    func finish(_ result: Result<HTTPClientResponse, any Error>) {
        guard !finished else { return }
        finished = true
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        continuation.resume(with: result)
    }

    /// Appends a header line from the header callback; a new status line starts a new header set.
    func receiveHeaderLine(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            headers.removeAll()
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces)
        let value = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        headers.append((name, value))
    }

    /// Appends body bytes; returns false when the cap is exceeded, which aborts the transfer.
    func receiveBody(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        if body.count + count > maxResponseBytes {
            exceededLimit = true
            return false
        }
        body.append(pointer.assumingMemoryBound(to: UInt8.self), count: count)
        return true
    }
}
