import Dates
import Foundation
import GatewayCore
import Testing
import ZIPFoundation

@Suite struct DailyReportSignatureTests {
    @Test func matchesAVectorComputedIndependently() {
        // python3: sha256(b'MAZW5N1IMMSH5H67C3T9KBHA|20160914.zip|s3cr3t-key').hexdigest()
        let signature = DailyReportSignature.sign(appID: "MAZW5N1IMMSH5H67C3T9KBHA", day: CalendarDay(iso: "2016-09-14")!, secret: "s3cr3t-key")
        #expect(signature == "defb6798f0de41d5a5eb05ac8369c5380972d1474ee4f95d22056b8a1c8fd935")
        #expect(DailyReportSignature.fileName(for: CalendarDay(iso: "2016-09-14")!) == "20160914.zip")
    }
}

@Suite struct CSVTableTests {
    @Test func parsesQuotesEmbeddedCommasAndLineBreaksAndABOM() throws {
        let text = "\u{FEFF}id,name,count\r\n1,\"Promo, \"\"big\"\" sale\nline 2\",5\r\n2,plain,\r\n\"3\",\"\",7"
        let table = try CSVTable(parsing: Data(text.utf8))
        #expect(table.columns == ["id", "name", "count"])
        #expect(table.rows == [["1", "Promo, \"big\" sale\nline 2", "5"], ["2", "plain", ""], ["3", "", "7"]])
    }

    @Test func acceptsLFAndATrailingNewline() throws {
        let table = try CSVTable(parsing: Data("a,b\n1,2\n".utf8))
        #expect(table.rows == [["1", "2"]])
    }

    @Test(arguments: ["a,b\n\"1,2\n", "a,b\n1\"x\",2\n"])
    func refusesMalformedQuoting(text: String) {
        #expect(throws: CSVTable.Malformed.self) { _ = try CSVTable(parsing: Data(text.utf8)) }
    }
}

/// Builds a zip in memory with the given entries.
private func zip(_ entries: [(path: String, data: Data)]) throws -> Data {
    let archive = try Archive(data: Data(), accessMode: .create)
    for entry in entries {
        try archive.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(entry.data.count), compressionMethod: .deflate) {
            position, size in
            entry.data.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    return archive.data ?? Data()
}

@Suite struct ReportArchiveTests {
    @Test func readsTheCSVEntry() throws {
        let data = try zip([("20250301.csv", Data("a,b\n1,2\n".utf8))])
        #expect(try ReportArchive.csv(in: data) == Data("a,b\n1,2\n".utf8))
    }

    @Test func refusesAnArchiveThatInflatesPastTheLimit() throws {
        let bomb = try zip([("bomb.csv", Data(count: 4 << 20))])
        #expect(bomb.count < 64 << 10, "4 MiB of zeros deflate to a few KiB")
        var limits = ReportArchive.Limits()
        limits.maxUncompressedBytes = 1 << 20
        #expect(throws: ReportArchive.Refused.self) { _ = try ReportArchive.csv(in: bomb, limits: limits) }
    }

    @Test(arguments: ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv"])
    func refusesPathTraversal(path: String) throws {
        let data = try zip([(path, Data("a\n".utf8))])
        #expect(throws: ReportArchive.Refused.self) { _ = try ReportArchive.csv(in: data) }
    }

    @Test func refusesTooManyEntriesAndNonArchives() throws {
        let many = try zip((0..<20).map { ("f\($0).csv", Data("a\n".utf8)) })
        #expect(throws: ReportArchive.Refused.self) { _ = try ReportArchive.csv(in: many) }
        #expect(throws: ReportArchive.Refused.self) { _ = try ReportArchive.csv(in: Data("{\"status\":\"fail\"}".utf8)) }
    }
}
