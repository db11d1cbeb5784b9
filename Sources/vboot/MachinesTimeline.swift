import ArgumentParser

struct MachinesTimeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline", abstract: "A machine's boot steps, newest first.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @Option(help: "How many events.") var limit: Int = 50
    @OptionGroup var api: APIOptions

    func run() async throws {
        let (_, object) = try await api.client().call(
            "GET", "/machines/\(APIClient.segment(machine))/timeline?limit=\(limit)")
        if api.json { return print(APIClient.pretty(object)) }
        let events = ((object as? [String: Any])?["events"] as? [[String: Any]]) ?? []
        print(
            MachineText.table(
                ["TIME (UTC)", "KIND", "OUTCOME", "WHAT"],
                events.map { event in
                    [
                        MachineText.text(event["at"]).prefix(23).replacingOccurrences(of: "T", with: " "),
                        MachineText.text(event["kind"]), MachineText.text(event["outcome"]),
                        MachineText.text(event["summary"]),
                    ]
                }))
    }
}
