import CCurl

/// Maps libcurl result codes to `CurlHTTPError` kinds.
enum CurlErrorMapping {
    /// The error for a failed transfer's result code, after `requestBytes` bytes of requests were written.
    static func error(for code: CURLcode, transfer: CurlTransfer, requestBytes: Int) -> CurlHTTPError {
        var error = kind(for: code, transfer: transfer)
        error.requestWritten = requestBytes > 0
        return error
    }

    private static func kind(for code: CURLcode, transfer: CurlTransfer) -> CurlHTTPError {
        let detail = String(cString: curl_easy_strerror(code))
        if transfer.exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            return .responseTooLarge(limit: transfer.maxResponseBytes)
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(detail)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectFailed(detail)
        case CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_HTTP2_STREAM, CURLE_HTTP2:
            return .connectionDropped(detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            return .tlsFailed(detail)
        default:
            return .transport(detail)
        }
    }
}
