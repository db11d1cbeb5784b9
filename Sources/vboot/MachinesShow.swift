import ArgumentParser

struct MachinesShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one machine (MAC, or uuid:…, serial:…, hostname:…).")

    @Argument(help: "The machine.") var machine: String
    @OptionGroup var api: APIOptions

    func run() async throws {
        let (_, object) = try await api.client().call("GET", "/machines/\(APIClient.segment(machine))")
        print(api.json ? APIClient.pretty(object) : MachineText.details(object as? [String: Any] ?? [:]))
    }
}
