/// A profile in `boot-scripts/profiles` with the variables its header declares.
public struct ProfileResource: Codable, Hashable, Sendable {
    public struct Variable: Codable, Hashable, Sendable {
        public var name: String
        public var defaultValue: String?
        public var description: String

        public init(name: String, defaultValue: String?, description: String) {
            self.name = name
            self.defaultValue = defaultValue
            self.description = description
        }

        enum CodingKeys: String, CodingKey {
            case name, description
            case defaultValue = "default"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(defaultValue, forKey: .defaultValue)
            try container.encode(description, forKey: .description)
        }
    }

    public var name: String
    public var title: String
    public var variables: [Variable]

    public init(name: String, title: String, variables: [Variable]) {
        self.name = name
        self.title = title
        self.variables = variables
    }
}

/// `GET /profiles`: the profiles, and the files that could not be read.
public struct ProfileList: Codable, Hashable, Sendable {
    public var profiles: [ProfileResource]
    public var errors: [String]
    public init(profiles: [ProfileResource], errors: [String]) {
        self.profiles = profiles
        self.errors = errors
    }
}
