import ArgumentParser
import VBootAPI

struct MachinesOnce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "once",
        abstract: "Install once: the next boot gets the profile, later boots the local disk.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @Option(help: "The install profile (default: the machine's profile).") var profile: String?
    @Option(help: "Done after N script fetches instead of the installer's callback.") var fetches: Int?
    @OptionGroup var api: APIOptions

    func run() async throws {
        var write = MachineWrite()
        write.nextBoot = .set("once")
        if let profile { write.profile = .set(profile) }
        if let fetches {
            guard fetches >= 1 else { throw ValidationError("--fetches must be 1 or more") }
            write.onceCompletion = .set("fetches:\(fetches)")
        } else {
            write.onceCompletion = .set("callback")
        }
        let changed = try await api.client().call(
            "PATCH", "/machines/\(APIClient.segment(machine))", body: write, as: MachineResource.self)
        MachineText.print(changed, json: api.json)
    }
}
