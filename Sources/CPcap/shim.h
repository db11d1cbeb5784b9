// libpcap (Debian's libpcap-dev), for `vboot trace`. Only
// Sources/PacketCapture imports this module: one wrapper type owns every pcap handle.
#ifndef VBOOT_CPCAP_H
#define VBOOT_CPCAP_H
#include <pcap/pcap.h>
#endif
