import Foundation
import HTTPTypes

/// The outcome of checking MoEngage's Basic auth plus `MOE-APPKEY` header pair.
enum BasicCredentials {
    case missing
    case invalid
    case valid(workspace: String)

    /// Valid when `Authorization: Basic base64(id:key)` matches a workspace and `MOE-APPKEY` names the same id.
    static func check(_ headers: HTTPFields, against workspaces: [String: String]) -> BasicCredentials {
        guard let authorization = headers[.authorization] else { return .missing }
        guard authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":")
        else { return .invalid }
        let workspace = String(decoded[..<colon])
        let key = String(decoded[decoded.index(after: colon)...])
        guard let expected = workspaces[workspace], expected == key, headers[HTTPField.Name("MOE-APPKEY")!] == workspace else {
            return .invalid
        }
        return .valid(workspace: workspace)
    }
}
