import Foundation
import ZIPFoundation

/// Reads the CSV out of a daily-report zip, refusing hostile archives: too many entries, entries
/// that escape their folder (`..`, absolute paths), or more uncompressed bytes than allowed
/// (counted while inflating, not trusted from the headers).
public enum ReportArchive {
    /// Limits for one archive.
    public struct Limits: Sendable {
        /// Most entries (default 16).
        public var maxEntries = 16
        /// Most uncompressed bytes in total (default 64 MiB).
        public var maxUncompressedBytes = 64 << 20

        /// The defaults.
        public init() {}
    }

    /// Why an archive was refused.
    public struct Refused: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, in plain words.
        public var description: String
    }

    /// The bytes of the first `.csv` entry.
    public static func csv(in zip: Data, limits: Limits = Limits()) throws -> Data {
        let archive: Archive
        do {
            archive = try Archive(data: zip, accessMode: .read)
        } catch {
            throw Refused(description: "not a zip archive")
        }
        let entries = Array(archive.makeIterator().prefix(limits.maxEntries + 1))
        guard entries.count <= limits.maxEntries else { throw Refused(description: "more than \(limits.maxEntries) entries") }
        for entry in entries {
            let components = entry.path.split(separator: "/", omittingEmptySubsequences: false)
            guard !entry.path.hasPrefix("/"), !entry.path.contains("\\"), !components.contains("..") else {
                throw Refused(description: "an entry path escapes the archive")
            }
        }
        guard let entry = entries.first(where: { $0.type == .file && $0.path.lowercased().hasSuffix(".csv") }) else {
            throw Refused(description: "no CSV entry")
        }
        var csv = Data()
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard csv.count + chunk.count <= limits.maxUncompressedBytes else {
                    throw Refused(description: "more than \(limits.maxUncompressedBytes) bytes uncompressed")
                }
                csv.append(chunk)
            }
        } catch let refused as Refused {
            throw refused
        } catch {
            throw Refused(description: "a corrupt entry")
        }
        return csv
    }
}
