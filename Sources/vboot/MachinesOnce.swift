import ArgumentParser

struct MachinesOnce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "once",
        abstract: "Install once: the next boot gets the profile, later boots the local disk.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @Option(help: "The install profile (default: the machine's profile).") var profile: String?
    @Option(help: "Done after N script fetches instead of the installer's callback.") var fetches: Int?
    @OptionGroup var api: APIOptions

    func run() async throws {
        var object: [String: Any] = ["next_boot": "once"]
        if let profile { object["profile"] = profile }
        if let fetches {
            guard fetches >= 1 else { throw ValidationError("--fetches must be 1 or more") }
            object["once_completion"] = "fetches:\(fetches)"
        } else {
            object["once_completion"] = "callback"
        }
        let (_, reply) = try await api.client().call(
            "PATCH", "/machines/\(APIClient.segment(machine))", body: object)
        print(api.json ? APIClient.pretty(reply) : MachineText.details(reply as? [String: Any] ?? [:]))
    }
}
