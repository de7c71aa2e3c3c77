import Foundation

/// A parsed CSV file: its header and its rows (RFC 4180: quoted fields, `""` escapes, commas and
/// line breaks inside quotes, CRLF or LF line ends, a leading UTF-8 byte-order mark).
public struct CSVTable: Sendable, Hashable {
    /// The header row.
    public var columns: [String]
    /// The data rows, each as many fields as it has.
    public var rows: [[String]]

    /// Why a CSV could not be read.
    public struct Malformed: Error, Sendable, Hashable {
        /// What is wrong.
        public var reason: String
    }

    /// Parses UTF-8 CSV bytes.
    public init(parsing data: Data) throws {
        var bytes = data[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(data: Data(bytes), encoding: .utf8) else { throw Malformed(reason: "not UTF-8") }
        let records = try Self.records(text)
        guard let header = records.first else { throw Malformed(reason: "no header row") }
        columns = header
        rows = Array(records.dropFirst())
    }

    private static func records(_ text: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var inQuotes = false
        var fieldWasQuoted = false
        var characters = text.unicodeScalars.makeIterator()
        var pending = characters.next()
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !fieldWasQuoted) { records.append(record) }
            record = []
            field = ""
            fieldWasQuoted = false
        }
        while let character = pending {
            pending = characters.next()
            if inQuotes {
                if character == "\"" {
                    if pending == "\"" {
                        field.unicodeScalars.append("\"")
                        pending = characters.next()
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.unicodeScalars.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                guard field.isEmpty else { throw Malformed(reason: "a quote inside an unquoted field") }
                inQuotes = true
                fieldWasQuoted = true
            case ",":
                record.append(field)
                field = ""
                fieldWasQuoted = false
            case "\r":
                if pending == "\n" { pending = characters.next() }
                endRecord()
            case "\n":
                endRecord()
            default:
                field.unicodeScalars.append(character)
            }
        }
        if inQuotes { throw Malformed(reason: "an unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty || fieldWasQuoted { endRecord() }
        return records
    }
}
