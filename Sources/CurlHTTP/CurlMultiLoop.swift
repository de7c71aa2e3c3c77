import CCurl
import Foundation
import LockedState

/// Runs one curl multi handle on one dedicated thread.
///
/// Other threads only append to the locked inbox and call `curl_multi_wakeup`; the multi
/// handle, the easy handles and the table of active transfers belong to the curl thread.
final class CurlMultiLoop: @unchecked Sendable {
    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var isShutdown = false
    }

    private let inbox = Locked(Inbox())
    /// The multi handle; after shutdown only the curl thread touches it (to clean it up).
    private let multi: UnsafeMutableRawPointer
    private let configuration: CurlHTTPClient.Configuration
    /// Active transfers by easy handle (curl thread only).
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    init(configuration: CurlHTTPClient.Configuration) throws {
        _ = curlGlobalInitialisation
        guard let multi = curl_multi_init() else { throw CurlHTTPError.transport("curl_multi_init failed") }
        self.multi = multi
        self.configuration = configuration
        _ = cg_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        _ = cg_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxTotalConnections)
        _ = cg_multi_setopt_long(multi, CURLMOPT_PIPELINING, cg_pipe_multiplex())
        let thread = Thread { [self] in self.run() }
        thread.name = "curl-multi"
        thread.start()
    }

    /// Hands a transfer to the curl thread; fails it at once when the loop is shut down.
    func submit(_ transfer: CurlTransfer) {
        enqueue(.add(transfer), orFail: transfer)
    }

    /// Asks the curl thread to remove a transfer whose waiting task was cancelled.
    func cancel(_ transfer: CurlTransfer) {
        transfer.markCancelled()
        enqueue(.cancel(transfer), orFail: nil)
    }

    /// Stops the loop: active and queued transfers fail with `CurlHTTPError.shutdown`.
    func shutdown() {
        inbox.withLock { box in
            guard !box.isShutdown else { return }
            box.isShutdown = true
            curl_multi_wakeup(multi)
        }
    }

    private func enqueue(_ command: Command, orFail transfer: CurlTransfer?) {
        let accepted = inbox.withLock { box -> Bool in
            guard !box.isShutdown else { return false }
            box.commands.append(command)
            curl_multi_wakeup(multi)
            return true
        }
        if !accepted, let transfer {
            // The curl thread never saw this transfer, so this thread may finish it.
            transfer.finish(.failure(CurlHTTPError.shutdown))
        }
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (commands, isShutdown) = inbox.withLock { box in
                let taken = box.commands
                box.commands.removeAll()
                return (taken, box.isShutdown)
            }
            for command in commands {
                switch command {
                case .add(let transfer):
                    if isShutdown { transfer.finish(.failure(CurlHTTPError.shutdown)) } else { start(transfer) }
                case .cancel(let transfer):
                    remove(transfer, failingWith: CurlHTTPError.cancelled)
                }
            }
            if isShutdown { break }
            curl_multi_perform(multi, &running)
            collectFinishedTransfers()
            curl_multi_poll(multi, nil, 0, 1_000, nil)
        }
        for transfer in Array(active.values) {
            remove(transfer, failingWith: CurlHTTPError.shutdown)
        }
        curl_multi_cleanup(multi)
    }

    private func start(_ transfer: CurlTransfer) {
        if transfer.isCancelled {
            transfer.finish(.failure(CurlHTTPError.cancelled))
            return
        }
        guard let easy = curl_easy_init() else {
            transfer.finish(.failure(CurlHTTPError.transport("curl_easy_init failed")))
            return
        }
        transfer.easy = easy
        CurlEasyConfigurator(easy: easy, transfer: transfer, configuration: configuration).apply()
        guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
            transfer.finish(.failure(CurlHTTPError.transport("curl_multi_add_handle failed")))
            return
        }
        active[easy] = transfer
    }

    private func remove(_ transfer: CurlTransfer, failingWith error: CurlHTTPError) {
        guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { return }
        curl_multi_remove_handle(multi, easy)
        transfer.finish(.failure(error))
    }

    private func collectFinishedTransfers() {
        while true {
            let done = cg_multi_next_done(multi)
            guard let easy = done.easy else { return }
            curl_multi_remove_handle(multi, easy)
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            if done.result == CURLE_OK {
                var status = 0
                _ = cg_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                transfer.finish(.success(HTTPClientResponse(status: status, headers: transfer.headers, body: transfer.body)))
            } else {
                // Counts every request written in this transfer, libcurl's hidden retries included.
                var requestBytes = 0
                _ = cg_easy_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &requestBytes)
                transfer.finish(.failure(CurlErrorMapping.error(for: done.result, transfer: transfer, requestBytes: requestBytes)))
            }
        }
    }
}

/// `curl_global_init` runs once, before the first multi handle exists.
private let curlGlobalInitialisation: Void = {
    _ = cg_global_init()
}()
