import ArgumentParser

struct MachinesLocal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Boot from the local disk from now on.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @OptionGroup var api: APIOptions

    func run() async throws {
        let (_, reply) = try await api.client().call(
            "PATCH", "/machines/\(APIClient.segment(machine))", body: ["next_boot": "local"])
        print(api.json ? APIClient.pretty(reply) : MachineText.details(reply as? [String: Any] ?? [:]))
    }
}
