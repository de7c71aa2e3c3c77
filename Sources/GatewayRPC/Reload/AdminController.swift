import DynamicJSON
import GatewayCore
import Hummingbird

/// `POST /admin/reload`: an admin caller (`callers[].admin: true`) reloads the configuration, as
/// `SIGHUP` does, and gets the outcome: 200, or 422 with the reason when the new file is invalid
/// (nothing changed), 409 when the gateway was not started from a file.
struct AdminController: Sendable {
    let authenticator: CallerAuthenticator
    let live: LiveConfiguration

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.post("/admin/reload") { request, _ in
            guard let caller = authenticator.authenticate(authorization: request.headers.value(.authorization)) else {
                return HTTPJSON.error(.unauthenticated, headers: [:])
            }
            guard caller.isAdmin else { return HTTPJSON.error(.forbiddenMethod("admin.reload"), headers: [:]) }
            guard live.canReload else {
                return HTTPJSON.response(.conflict, ["outcome": "failed", "reason": "the gateway was not started from a config file"])
            }
            let outcome = live.reload()
            return HTTPJSON.response(outcome.failure == nil ? .ok : .unprocessableContent, outcome.json)
        }
    }
}

extension LiveConfiguration.Outcome {
    /// `{outcome, generation, at?, reason?, restart_needed}`, as `/readyz` and `POST /admin/reload` show it.
    var json: JSON {
        var body: [String: JSON] = [
            "outcome": failure == nil ? "ok" : "failed", "generation": .int(generation),
            "restart_needed": .array(restartNeeded.map(JSON.string)),
        ]
        if let at { body["at"] = .string(at.formatted(.iso8601)) }
        if let failure { body["reason"] = .string(failure) }
        return .object(body)
    }
}
