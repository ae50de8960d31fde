//! Which side of a Sysmon connection is Zeek's originator.
//!
//! Sysmon does not always put the initiator in `Source*` when `Initiated` is false (a DNS
//! server's record `172.18.39.5:53 -> 172.18.39.100:55506`), and it logs received multicast
//! and broadcast datagrams with the group or broadcast address as the source. This module only
//! decides the order; it never changes a value.

use std::net::IpAddr;

use crate::event::{Connection, Endpoint, Transport};

/// The connection's ends in Zeek's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Oriented {
    pub orig: Endpoint,
    pub resp: Endpoint,
}

/// Orders a connection's ends (addresses already canonical):
///
/// 1. A multicast or broadcast source never originated anything: swap, unless the
///    destination is one too (then there is no better guess than Sysmon's order).
/// 2. `Initiated` true: the source originated.
/// 3. `Initiated` false on UDP from a subnet's directed broadcast address to a host of that
///    subnet (NetBIOS `172.18.38.255:137 -> 172.18.38.5:137`): swap, as for rule 1.
/// 4. `Initiated` false: swap when the source port is a service port and the destination
///    port is not; otherwise (both or neither, NTP 123 to 123) keep Sysmon's order.
pub(crate) fn orient(
    connection: &Connection<'_>,
    source: Endpoint,
    destination: Endpoint,
) -> Oriented {
    let keep = Oriented {
        orig: source,
        resp: destination,
    };
    let swap = Oriented {
        orig: destination,
        resp: source,
    };
    if is_group_address(source.ip) {
        return if is_group_address(destination.ip) {
            keep
        } else {
            swap
        };
    }
    if connection.initiated {
        return keep;
    }
    if connection.transport == Transport::Udp && is_directed_broadcast_to(source.ip, destination.ip)
    {
        return swap;
    }
    if is_service_port(source.port) && !is_service_port(destination.port) {
        swap
    } else {
        keep
    }
}

/// Multicast (IPv4 224.0.0.0/4, IPv6 ff00::/8) or the IPv4 limited broadcast. A subnet's
/// directed broadcast is not one of these: see [`is_directed_broadcast_to`].
fn is_group_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// Whether `source` is the directed broadcast address of a subnet of /24 or larger that also
/// holds `destination`: its last octet is 255 and every bit after the prefix it shares with
/// `destination` is one (`172.18.38.255` to `172.18.38.5`, `172.18.255.255` to
/// `172.18.39.5`).
///
/// Sysmon gives no subnet mask, so this is a guess from the addresses alone. It is only asked
/// for UDP records with `Initiated` false, where Sysmon writes the local socket's address as
/// the source: that address ending in .255 is a received broadcast, unless the host itself is
/// numbered .255 in a network larger than a /24; then the peer sent the datagram to the
/// host, and the peer is the originator all the same.
fn is_directed_broadcast_to(source: IpAddr, destination: IpAddr) -> bool {
    let (IpAddr::V4(source), IpAddr::V4(destination)) = (source, destination) else {
        return false;
    };
    let (source, destination) = (source.to_bits(), destination.to_bits());
    let host_bits = 32 - (source ^ destination).leading_zeros();
    source != destination && source.trailing_ones() >= host_bits.max(8)
}

/// Well-known service ports at or above 1024 that Windows endpoints serve or answer from,
/// in order; a port below 1024 is a service port anyway. Each is assigned by IANA and none
/// is in Windows' dynamic range (49152-65535), so a client's ephemeral port does not
/// collide with them on current Windows.
const HIGH_SERVICE_PORTS: [u16; 14] = [
    1433, // Microsoft SQL Server
    1434, // SQL Server Browser (udp answers to instance discovery)
    1900, // SSDP: UPnP discovery replies come from it
    3268, // Active Directory global catalog (LDAP)
    3269, // Active Directory global catalog (LDAP over TLS)
    3389, // RDP
    3702, // WS-Discovery, Windows network discovery
    5353, // mDNS
    5355, // LLMNR
    5985, // WinRM over HTTP
    5986, // WinRM over HTTPS
    8080, // HTTP alternate, web proxies
    8443, // HTTPS alternate
    9389, // Active Directory Web Services
];

/// Whether a port is a service port for orientation: below 1024, or listed in
/// [`HIGH_SERVICE_PORTS`].
pub(crate) fn is_service_port(port: u16) -> bool {
    port < 1024 || HIGH_SERVICE_PORTS.contains(&port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Transport;

    fn connection(initiated: bool, transport: Transport) -> Connection<'static> {
        let unused = Endpoint {
            ip: "0.0.0.0".parse().unwrap(),
            port: 0,
        };
        Connection {
            source: unused,
            destination: unused,
            transport,
            initiated,
            port_name: None,
        }
    }

    fn at(text: &str) -> Endpoint {
        let (ip, port) = text.rsplit_once(':').unwrap();
        Endpoint {
            ip: ip.trim_matches(['[', ']']).parse().unwrap(),
            port: port.parse().unwrap(),
        }
    }

    fn orig(initiated: bool, source: &str, destination: &str) -> Endpoint {
        orient(
            &connection(initiated, Transport::Udp),
            at(source),
            at(destination),
        )
        .orig
    }

    fn tcp_orig(initiated: bool, source: &str, destination: &str) -> Endpoint {
        orient(
            &connection(initiated, Transport::Tcp),
            at(source),
            at(destination),
        )
        .orig
    }

    #[test]
    fn an_initiated_connection_keeps_the_source_as_originator() {
        assert_eq!(
            orig(true, "10.0.2.15:49730", "93.184.216.34:443"),
            at("10.0.2.15:49730")
        );
        // Even from a service port: Initiated is Sysmon's word.
        assert_eq!(
            orig(true, "10.0.2.15:53", "10.0.2.3:3389"),
            at("10.0.2.15:53")
        );
    }

    #[test]
    fn not_initiated_from_a_service_port_to_an_ephemeral_port_is_swapped() {
        assert_eq!(
            orig(false, "172.18.39.5:53", "172.18.39.100:55506"),
            at("172.18.39.100:55506")
        );
        assert_eq!(
            orig(false, "10.0.0.5:3389", "10.0.0.9:50123"),
            at("10.0.0.9:50123")
        );
        assert_eq!(
            orig(false, "[fe80::5]:5985", "[fe80::9]:50123"),
            at("[fe80::9]:50123")
        );
    }

    #[test]
    fn not_initiated_keeps_the_order_when_both_or_neither_port_is_a_service() {
        assert_eq!(
            orig(false, "10.0.0.5:123", "10.0.0.1:123"),
            at("10.0.0.5:123")
        );
        assert_eq!(
            orig(false, "10.0.0.5:50000", "10.0.0.1:50001"),
            at("10.0.0.5:50000")
        );
        // The ECS record 9 shape: source ephemeral, destination a service.
        assert_eq!(
            orig(false, "10.0.2.15:62141", "10.0.2.3:53"),
            at("10.0.2.15:62141")
        );
    }

    #[test]
    fn multicast_and_broadcast_sources_are_never_the_originator() {
        assert_eq!(
            orig(false, "224.0.0.251:5353", "10.0.0.7:5353"),
            at("10.0.0.7:5353")
        );
        assert_eq!(
            orig(true, "224.0.0.252:5355", "10.0.0.7:61000"),
            at("10.0.0.7:61000")
        );
        assert_eq!(
            orig(false, "255.255.255.255:67", "0.0.0.0:68"),
            at("0.0.0.0:68")
        );
        assert_eq!(
            orig(false, "[ff02::fb]:5353", "[fe80::1]:5353"),
            at("[fe80::1]:5353")
        );
        // Both group addresses: nothing better than Sysmon's order.
        assert_eq!(
            orig(false, "224.0.0.251:5353", "239.255.255.250:1900"),
            at("224.0.0.251:5353")
        );
    }

    #[test]
    fn a_received_directed_broadcast_is_never_the_originator() {
        // NetBIOS name and datagram service broadcasts as Sysmon logs them on the receiver.
        assert_eq!(
            orig(false, "172.18.38.255:137", "172.18.38.5:137"),
            at("172.18.38.5:137")
        );
        assert_eq!(
            orig(false, "172.18.255.255:138", "172.18.39.105:138"),
            at("172.18.39.105:138")
        );
        assert_eq!(
            orig(false, "10.0.1.255:137", "10.0.0.200:137"),
            at("10.0.0.200:137")
        );
        // The sender's own record keeps its order.
        assert_eq!(
            orig(true, "172.18.38.5:137", "172.18.38.255:137"),
            at("172.18.38.5:137")
        );
    }

    #[test]
    fn addresses_that_cannot_be_a_broadcast_to_the_peer_keep_the_port_rule() {
        // Not all ones after the shared prefix: 10.0.1.255 is no broadcast address of a
        // network that holds 10.0.2.7.
        assert_eq!(
            orig(false, "10.0.1.255:50000", "10.0.2.7:50001"),
            at("10.0.1.255:50000")
        );
        // Fewer than 8 host bits of ones: the top of a /30 or /25 is a host elsewhere.
        assert_eq!(
            orig(false, "10.0.0.7:50000", "10.0.0.5:50001"),
            at("10.0.0.7:50000")
        );
        assert_eq!(
            orig(false, "10.0.0.127:50000", "10.0.0.5:50001"),
            at("10.0.0.127:50000")
        );
        // Broadcast is UDP only.
        assert_eq!(
            tcp_orig(false, "172.18.38.255:50000", "172.18.38.5:50001"),
            at("172.18.38.255:50000")
        );
        assert_eq!(
            orig(false, "172.18.38.255:137", "172.18.38.255:137"),
            at("172.18.38.255:137")
        );
    }

    #[test]
    fn service_ports_are_those_below_1024_and_the_listed_ones() {
        assert!(is_service_port(0) && is_service_port(1023) && is_service_port(5986));
        assert!(!is_service_port(1024) && !is_service_port(49152) && !is_service_port(5000));
    }
}
