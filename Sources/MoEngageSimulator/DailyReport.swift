import Crypto
import Dates
import DynamicJSON
import Foundation
import ZIPFoundation

/// The simulator's daily campaign reports: one CSV per day inside a zip, as MoEngage serves them.
extension SyntheticCatalog {
    /// The report's header row.
    public static let dailyReportColumns = ["Campaign ID", "Campaign Name", "Platform", "Date", "Sent", "Delivered", "Impressions", "Clicks"]

    /// The rows of a day's report: one per campaign and platform active that day. Names of some
    /// campaigns carry commas, quotes and a line break, so the CSV needs proper quoting.
    public func dailyReportRows(on day: CalendarDay) -> [[String]] {
        let range = DayRange(start: day, end: day)!
        return campaigns(activeIn: range).flatMap { campaign -> [[String]] in
            let name = campaign.index % 6 == 0 ? "\(campaign.name), \"flash\" sale\nsecond line" : campaign.name
            return campaign.platforms.map { platform in
                let leaf = LeafKey(seed: seed, campaign: campaign, platform: platform, locale: "all_locales", attribution: "VIEW_THROUGH")
                let counters = leaf.figures(on: day).counters
                return [campaign.id, name, platform, day.iso]
                    + ["p.sent", "p.delivered", "p.impression", "p.click"].map { String(counters[$0] ?? 0) }
            }
        }
    }

    /// The day's report as a zip holding `YYYYMMDD.csv` (UTF-8 with a byte-order mark, CRLF line ends).
    public func dailyReportZip(on day: CalendarDay) throws -> Data {
        let lines = ([Self.dailyReportColumns] + dailyReportRows(on: day)).map { $0.map(Self.csvField).joined(separator: ",") }
        let csv = Data([0xEF, 0xBB, 0xBF]) + Data(lines.joined(separator: "\r\n").utf8) + Data("\r\n".utf8)
        let archive = try Archive(data: Data(), accessMode: .create)
        try archive.addEntry(with: "\(day.compact).csv", type: .file, uncompressedSize: Int64(csv.count), compressionMethod: .deflate) {
            position, size in
            csv.subdata(in: Int(position)..<Int(position) + size)
        }
        return archive.data ?? Data()
    }

    private static func csvField(_ value: String) -> String {
        value.contains(where: { ",\"\r\n".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }
}

/// The daily report's signature: `hex(sha256(APP_ID + "|" + "YYYYMMDD.zip" + "|" + SECRET_KEY))`.
enum ReportSignature {
    static func sign(appID: String, file: String, secret: String) -> String {
        SHA256.hash(data: Data("\(appID)|\(file)|\(secret)".utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
