import ArgumentParser
import BootPolicy
import Logging
import VBootServer

/// `@Option(.httpPort)`: the flag's name and help come from the setting's one description.
extension Option {
    init<T: ExpressibleByArgument>(_ key: SettingKey) where Value == T? {
        self.init(name: .customLong(key.setting.flag), help: key.argumentHelp)
    }

    init<T: ExpressibleByArgument>(wrappedValue: [T], _ key: SettingKey) where Value == [T] {
        self.init(wrappedValue: wrappedValue, name: .customLong(key.setting.flag), help: key.argumentHelp)
    }
}

extension SettingKey {
    var argumentHelp: ArgumentHelp {
        let setting = setting
        let reload = setting.reloadable ? "; a reload applies it" : ""
        return ArgumentHelp(
            "\(setting.help) (default: \(setting.default.markdown.replacingOccurrences(of: "`", with: "")); config \(rawValue)\(reload))",
            valueName: setting.valueName)
    }
}

extension ServerConfiguration.DHCPMode: ExpressibleByArgument {}
extension UnknownMachinePolicy: ExpressibleByArgument {}
extension BootLoader: ExpressibleByArgument {}
extension CacheMode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
