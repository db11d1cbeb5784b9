import ArgumentParser
import VBootAPI

struct MachinesTimeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline", abstract: "A machine's boot steps, newest first.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @Option(help: "How many events.") var limit: Int = 50
    @OptionGroup var api: APIOptions

    func run() async throws {
        let page = try await api.client().call(
            "GET", "/machines/\(APIClient.segment(machine))/timeline?limit=\(limit)", as: TimelinePage.self)
        if api.json { return print(APIClient.pretty(page)) }
        print(
            MachineText.table(
                ["TIME (UTC)", "KIND", "OUTCOME", "WHAT"],
                page.events.map { event in
                    [
                        event.at.prefix(23).replacingOccurrences(of: "T", with: " "), event.kind, event.outcome,
                        event.summary,
                    ]
                }))
    }
}
