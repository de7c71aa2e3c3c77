import DynamicJSON
import Foundation
import GatewayCore
import GatewayProto
import SwiftProtobuf

/// A `GatewayError` in gRPC's richer error model: its numeric status code and the
/// `google.rpc` details (gRPC's `grpc-status-details-bin`, Connect's `details`).
///
/// Every error carries an `ErrorInfo` (domain `campaign-gateway`, reason the error's kind in
/// capitals, metadata the JSON-RPC code and each member of the JSON-RPC `error.data`, non-strings
/// as JSON text); a budget refusal adds a `RetryInfo`, a bad field a `BadRequest`.
struct ErrorStatus {
    /// The domain of every `ErrorInfo`.
    static let domain = "campaign-gateway"

    let error: GatewayError

    /// gRPC's status code (Connect's codes are gRPC's).
    var grpcCode: Int {
        switch error.connectCode {
        case "canceled": return 1
        case "invalid_argument": return 3
        case "deadline_exceeded": return 4
        case "not_found": return 5
        case "permission_denied": return 7
        case "resource_exhausted": return 8
        case "failed_precondition": return 9
        case "unimplemented": return 12
        case "internal": return 13
        case "unavailable": return 14
        case "unauthenticated": return 16
        default: return 2
        }
    }

    /// The details, each packed as `google.protobuf.Any`.
    var details: [Google_Protobuf_Any] {
        detailMessages.compactMap { try? Google_Protobuf_Any(message: $0) }
    }

    private var detailMessages: [any SwiftProtobuf.Message] {
        var metadata = ["jsonrpc_code": String(error.jsonRPCCode)]
        for (key, value) in error.data?.objectValue ?? [:] {
            metadata[key] = value.stringValue ?? value.encodedString()
        }
        var messages: [any SwiftProtobuf.Message] = [
            Google_Rpc_ErrorInfo.with {
                $0.reason = error.kind.uppercased()
                $0.domain = Self.domain
                $0.metadata = metadata
            }
        ]
        if let retryAfterMs = error.retryAfterMs {
            messages.append(
                Google_Rpc_RetryInfo.with {
                    $0.retryDelay = Google_Protobuf_Duration(seconds: Int64(retryAfterMs / 1_000), nanos: Int32(retryAfterMs % 1_000) * 1_000_000)
                })
        }
        if error.jsonRPCCode == -32602, let field = error.data?["field"]?.stringValue {
            messages.append(
                Google_Rpc_BadRequest.with {
                    $0.fieldViolations = [.with { $0.field = field; $0.description_p = error.data?["reason"]?.stringValue ?? error.message }]
                })
        }
        return messages
    }

    /// `google.rpc.Status`, serialized: the value of gRPC's `grpc-status-details-bin` trailer.
    var statusBytes: [UInt8] {
        let status = Google_Rpc_Status.with {
            $0.code = Int32(grpcCode)
            $0.message = error.message
            $0.details = details
        }
        return (try? status.serializedBytes()) ?? []
    }

    /// Connect's error details: `{type, value (base64), debug (the detail as JSON)}` each.
    var connectDetails: JSON {
        .array(
            detailMessages.compactMap { message -> JSON? in
                guard let bytes: [UInt8] = try? message.serializedBytes() else { return nil }
                var detail: [String: JSON] = [
                    "type": .string(type(of: message).protoMessageName),
                    "value": .string(Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")),
                ]
                if let text = try? message.jsonUTF8Bytes() as [UInt8], let debug = try? JSON.parse(text) { detail["debug"] = debug }
                return .object(detail)
            })
    }
}
