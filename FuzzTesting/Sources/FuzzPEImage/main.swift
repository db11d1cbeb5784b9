import Firmware
import FuzzSupport

// An EFI image (PE32/PE32+), as `vboot rom` reads the iPXE binaries it wraps or inspects.
fuzz { bytes in
    guard let image = try? PEImage(parsing: bytes) else { return }
    _ = image.describe()
}
