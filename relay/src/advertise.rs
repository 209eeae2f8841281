//! The addresses a relay tells its operator to give clients. A relay bound to `0.0.0.0` or
//! `[::]` listens everywhere, but that address is no use in a client's relay address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Where clients can reach a relay listening on `listen`: the address itself if it is a
/// specific one; for an unspecified one the loopback address (clients on this machine) and
/// then, if the machine has a route out, the address of the interface it leaves through.
pub fn client_addresses(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    let port = listen.port();
    let (loopback, probe): (IpAddr, SocketAddr) = match listen {
        SocketAddr::V4(_) => (
            Ipv4Addr::LOCALHOST.into(),
            SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 9)),
        ),
        SocketAddr::V6(_) => (
            Ipv6Addr::LOCALHOST.into(),
            SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9)),
        ),
    };
    let mut addresses = vec![SocketAddr::new(loopback, port)];
    if let Some(outward) = route_address(listen, probe)
        && usable(outward)
    {
        addresses.push(SocketAddr::new(outward, port));
    }
    addresses
}

/// The local address the kernel picks to reach `probe`: connecting a UDP socket chooses a
/// route and a source address without sending anything.
fn route_address(listen: SocketAddr, probe: SocketAddr) -> Option<IpAddr> {
    let any = SocketAddr::new(listen.ip(), 0);
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(probe).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

fn usable(ip: IpAddr) -> bool {
    !ip.is_unspecified() && !ip.is_loopback() && !ip.is_multicast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_given_as_it_is() {
        let listen: SocketAddr = "127.0.0.1:7443".parse().unwrap();
        assert_eq!(client_addresses(listen), vec![listen]);
        let listen: SocketAddr = "10.1.2.3:7443".parse().unwrap();
        assert_eq!(client_addresses(listen), vec![listen]);
    }

    #[test]
    fn an_unspecified_address_becomes_loopback_first_and_never_itself() {
        for listen in ["0.0.0.0:7443", "[::]:7443"] {
            let listen: SocketAddr = listen.parse().unwrap();
            let addresses = client_addresses(listen);
            let first = addresses.first().copied().unwrap();
            assert!(first.ip().is_loopback() && first.port() == 7443, "{addresses:?}");
            assert!(
                addresses
                    .iter()
                    .all(|address| !address.ip().is_unspecified() && address.port() == 7443),
                "{addresses:?}"
            );
            assert!(
                addresses
                    .iter()
                    .all(|address| address.is_ipv4() == listen.is_ipv4())
            );
        }
    }
}
