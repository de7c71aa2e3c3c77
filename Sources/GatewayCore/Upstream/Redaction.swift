import Foundation

/// Keeps a request's secrets out of text that came back from the upstream (error codes, titles,
/// messages, transport details) before it reaches an answer or a log line.
///
/// `scrub` removes each secret as sent and in the forms an echo commonly takes (percent-encoded,
/// JSON-escaped `\/`, upper/lower-cased hex) and cuts the text to `maxLength`. An upstream can
/// encode a secret in endless other ways (base64 at any offset, hex, partial escapes), so upstream
/// prose goes through `plainWords`: scrubbed, then kept only when it is short and made of letters,
/// digits, spaces and light punctuation, the shape of a real error title.
struct Redaction: Sendable {
    /// The longest upstream text kept by `scrub`.
    static let maxLength = 300
    /// The longest upstream text kept by `plainWords`.
    static let maxPlainLength = 120
    private let forms: [String]

    /// Redacts `secrets` (empty ones are ignored).
    init(secrets: [String]) {
        var forms: Set<String> = []
        for secret in secrets where secret.count >= 4 {
            let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret
            let hex = secret.utf8.map { String(format: "%02x", $0) }.joined()
            for form in [secret, encoded, secret.replacingOccurrences(of: "/", with: "\\/"), hex] + Self.base64Cores(of: secret) {
                forms.formUnion([form, form.lowercased(), form.uppercased()])
            }
        }
        // Longest first, so a secret inside a longer one (the signature in the signed path) goes with it.
        self.forms = forms.sorted { $0.count > $1.count }
    }

    /// The part of any base64 text that contains `secret` at each of the three byte alignments
    /// (standard and URL-safe alphabets): the characters that depend on the secret alone.
    static func base64Cores(of secret: String) -> [String] {
        let bytes = Array(secret.utf8)
        var cores: [String] = []
        for alignment in 0..<3 {
            let encoded = Data(Array(repeating: 0, count: alignment) + bytes).base64EncodedString()
            let leading = alignment == 0 ? 0 : alignment + 1
            let trailing = (alignment + bytes.count) % 3 == 0 ? 0 : 4
            guard encoded.count - leading - trailing >= 8 else { continue }
            let core = String(encoded.dropFirst(leading).dropLast(trailing))
            cores += [core, core.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")]
        }
        return cores
    }

    /// `text` with every form of every secret replaced by `***`, at most `maxLength` characters.
    func scrub(_ text: String) -> String {
        let scrubbed = forms.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
        return scrubbed.count > Self.maxLength ? String(scrubbed.prefix(Self.maxLength)) + "…" : scrubbed
    }

    /// `text` scrubbed when it is at most `maxPlainLength` characters of `A-Z a-z 0-9`, space and
    /// `_ - . , : ; ' ( ) *`, with no run of `maxWordLength` letters and digits (an encoded token,
    /// not a word); nil otherwise (it is then not passed on at all).
    func plainWords(_ text: String) -> String? {
        let scrubbed = forms.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
        guard !scrubbed.isEmpty, scrubbed.utf8.count <= Self.maxPlainLength, scrubbed.utf8.allSatisfy(Self.isPlain) else { return nil }
        var run = 0
        for byte in scrubbed.utf8 {
            run = Self.isAlphanumeric(byte) ? run + 1 : 0
            if run >= Self.maxWordLength { return nil }
        }
        return scrubbed
    }

    /// Letters and digits in a row from which text looks like an encoded token rather than words.
    static let maxWordLength = 16

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return false
        }
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || " _-.,:;'()*".utf8.contains(byte)
    }
}

/// An upstream `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
enum RetryAfter {
    /// The delay it asks for from now (never negative), or nil when unreadable.
    static func parse(_ value: String) -> Duration? {
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
                return .milliseconds(Int64(max(0, min(date.timeIntervalSinceNow, 86_400 * 365)) * 1_000))
            }
        }
        return nil
    }

    /// IMF-fixdate, then the obsolete RFC 850 and asctime forms.
    private static let httpDateFormats = ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"]
}
