//! Socket addresses on the wire: family tag, IP octets, port.
//! (IPv6 flow info and scope id are not carried.)

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
enum WireAddr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

pub(super) fn serialize<S: Serializer>(
    addr: &SocketAddr,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match addr.ip() {
        IpAddr::V4(ip) => WireAddr::V4(ip.octets(), addr.port()),
        IpAddr::V6(ip) => WireAddr::V6(ip.octets(), addr.port()),
    }
    .serialize(serializer)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<SocketAddr, D::Error> {
    Ok(match WireAddr::deserialize(deserializer)? {
        WireAddr::V4(ip, port) => SocketAddr::from((Ipv4Addr::from(ip), port)),
        WireAddr::V6(ip, port) => SocketAddr::from((Ipv6Addr::from(ip), port)),
    })
}
