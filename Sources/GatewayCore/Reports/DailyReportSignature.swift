import Crypto
import Dates
import Foundation

/// Signs daily-report downloads: `hex(sha256(APP_ID + "|" + "YYYYMMDD.zip" + "|" + SECRET_KEY))`.
public enum DailyReportSignature {
    /// The file name of a day's report, `YYYYMMDD.zip`.
    public static func fileName(for day: CalendarDay) -> String {
        "\(day.compact).zip"
    }

    /// The signature for one day's report of one workspace.
    public static func sign(appID: String, day: CalendarDay, secret: String) -> String {
        SHA256.hash(data: Data("\(appID)|\(fileName(for: day))|\(secret)".utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
