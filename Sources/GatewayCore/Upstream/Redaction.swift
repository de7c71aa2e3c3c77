import Foundation

/// Removes a request's secrets from text that came back from the upstream (error messages, titles,
/// transport details) before it reaches an answer or a log line.
///
/// Each secret is removed as sent and in the forms an echo may take: percent-encoded,
/// JSON-escaped (`\/`), and upper/lower-cased (hex signatures). The result is also cut to
/// `maxLength` characters, so an upstream cannot fill answers and logs with its body.
struct Redaction: Sendable {
    /// The longest upstream text kept.
    static let maxLength = 300
    private let forms: [String]

    /// Redacts `secrets` (empty ones are ignored).
    init(secrets: [String]) {
        var forms: Set<String> = []
        for secret in secrets where secret.count >= 4 {
            let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret
            for form in [secret, encoded, secret.replacingOccurrences(of: "/", with: "\\/")] {
                forms.formUnion([form, form.lowercased(), form.uppercased()])
            }
        }
        // Longest first, so a secret inside a longer one (the signature in the signed path) goes with it.
        self.forms = forms.sorted { $0.count > $1.count }
    }

    /// `text` with every form of every secret replaced by `***`, at most `maxLength` characters.
    func scrub(_ text: String) -> String {
        let scrubbed = forms.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
        return scrubbed.count > Self.maxLength ? String(scrubbed.prefix(Self.maxLength)) + "…" : scrubbed
    }
}

/// An upstream `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
enum RetryAfter {
    /// The delay it asks for from `now` (never negative), or nil when unreadable.
    static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) {
            // Any number of digits: a value past a year is simply very long (the caller caps it).
            return .seconds(text.count > 8 ? 86_400 * 365 : Int64(text)!)
        }
        for format in httpDateFormats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) {
                return .milliseconds(Int64(max(0, min(date.timeIntervalSince(now), 86_400 * 365)) * 1_000))
            }
        }
        return nil
    }

    /// IMF-fixdate, then the obsolete RFC 850 and asctime forms.
    private static let httpDateFormats = ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"]
}
