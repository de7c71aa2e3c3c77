import CCurl
import Foundation

/// Sets the options of one easy handle from a request and the client configuration (curl thread only).
struct CurlEasyConfigurator {
    let easy: UnsafeMutableRawPointer
    let transfer: CurlTransfer
    let configuration: CurlHTTPClient.Configuration

    /// Applies every option: URL, method and body, headers, timeouts, TLS, callbacks.
    func apply() {
        let request = transfer.request
        setString(CURLOPT_URL, request.url)
        setString(CURLOPT_PROTOCOLS_STR, "http,https")
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMs)
        setLong(CURLOPT_TIMEOUT_MS, request.totalTimeoutMs)
        setLong(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        // Over TLS, wait for a connection that may multiplex (HTTP/2) rather than open another.
        // Cleartext is HTTP/1.1 here: waiting would serialise every transfer behind the first.
        if request.url.lowercased().hasPrefix("https://") {
            setLong(CURLOPT_PIPEWAIT, 1)
        }
        setLong(CURLOPT_SSL_VERIFYPEER, 1)
        setLong(CURLOPT_SSL_VERIFYHOST, 2)
        if let caBundlePath = configuration.caBundlePath {
            setString(CURLOPT_CAINFO, caBundlePath)
        }
        _ = cg_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(transfer.maxResponseBytes))
        applyMethodAndBody(request)
        applyHeaders(request)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        _ = cg_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, CurlCallbacks.write)
        _ = cg_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        _ = cg_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, CurlCallbacks.header)
        _ = cg_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
    }

    private func applyMethodAndBody(_ request: HTTPClientRequest) {
        switch request.method {
        case "GET" where request.body == nil:
            setLong(CURLOPT_HTTPGET, 1)
        case "POST":
            setLong(CURLOPT_POST, 1)
        default:
            setString(CURLOPT_CUSTOMREQUEST, request.method)
        }
        guard let body = request.body else { return }
        // POSTFIELDSIZE_LARGE first, so COPYPOSTFIELDS copies exactly these bytes.
        _ = cg_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        var bytes = [UInt8](body)
        if bytes.isEmpty { bytes = [0] }
        bytes.withUnsafeMutableBytes { buffer in
            _ = cg_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, buffer.baseAddress)
        }
    }

    private func applyHeaders(_ request: HTTPClientRequest) {
        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        // An empty Expect: stops curl from waiting for `100 Continue` on POST bodies.
        list = curl_slist_append(list, "Expect:")
        transfer.headerList = list
        _ = cg_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
    }

    private func setLong(_ option: CURLoption, _ value: Int) {
        _ = cg_easy_setopt_long(easy, option, value)
    }

    private func setString(_ option: CURLoption, _ value: String) {
        _ = cg_easy_setopt_string(easy, option, value)
    }
}

/// The C callbacks curl calls on its thread; context arrives as the transfer's opaque pointer.
enum CurlCallbacks {
    /// CURLOPT_WRITEFUNCTION: appends body bytes, or aborts past the size cap.
    static let write: cg_curl_data_callback = { pointer, size, count, context in
        guard let pointer, let context else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        let total = size * count
        return transfer.receiveBody(UnsafeRawPointer(pointer), count: total) ? total : 0
    }

    /// CURLOPT_HEADERFUNCTION: records one header line.
    static let header: cg_curl_data_callback = { pointer, size, count, context in
        guard let pointer, let context else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        let total = size * count
        let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: total), as: UTF8.self)
        transfer.receiveHeaderLine(line)
        return total
    }
}
