/// What a machine that is not in the inventory gets.
public enum UnknownMachinePolicy: String, Sendable, Hashable, CaseIterable {
    /// Its per-MAC script file, else the default script.
    case script
    /// As `script`, and it is added to the inventory (next boot `profile`, no profile) so an
    /// admin can assign it one.
    case register
    /// Nothing: no proxy offer, no script (unless a per-MAC script file names it).
    case ignore
}
