import ArgumentParser
import Foundation
import VBootServer

struct AssetsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the upstreams and the files cached from them.")

    @OptionGroup var cache: CacheOptions

    func run() async throws {
        let maintenance = try cache.maintenance()
        let upstreams = maintenance.knownUpstreams.sorted { $0.key < $1.key }
        print(upstreams.isEmpty ? "no upstreams" : "UPSTREAM  URL")
        for (name, url) in upstreams { print("\(name)  \(url)") }
        let items = maintenance.list()
        print("")
        print(
            "\(items.count) file(s), \(AssetsText.size(items.reduce(0) { $0 + $1.size })) in \(maintenance.layout.directory)"
        )
        guard !items.isEmpty else { return }
        var rows = [["FILE", "SIZE", "CHECKED (UTC)", "LAST USED (UTC)", "SHA-256"]]
        for item in items {
            rows.append([
                item.key, AssetsText.size(item.size), item.record.map { AssetsText.date($0.validated) } ?? "-",
                AssetsText.date(item.lastUsed),
                item.record.map { String($0.sha256.prefix(16)) + (item.pin == $0.sha256 ? " (pinned)" : "") } ?? "-",
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(
                row.enumerated().map { column, text in
                    column == row.count - 1 ? text : text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }.joined(separator: "  "))
        }
    }
}
