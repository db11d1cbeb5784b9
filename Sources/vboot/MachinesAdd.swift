import ArgumentParser

struct MachinesAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a machine by MAC.")

    @Argument(help: "The machine's MAC address.") var mac: String
    @OptionGroup var fields: MachineFields
    @OptionGroup var api: APIOptions

    func run() async throws {
        var object = try fields.object()
        object["mac"] = mac
        let (_, reply) = try await api.client().call("POST", "/machines", body: object)
        print(api.json ? APIClient.pretty(reply) : MachineText.details(reply as? [String: Any] ?? [:]))
    }
}
