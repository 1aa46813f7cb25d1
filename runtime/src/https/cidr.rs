//! Address blocks for trusted proxies: `10.0.0.0/8`, or one address.

use std::fmt;
use std::net::IpAddr;

/// An address block: `10.0.0.0/8`, or one address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

impl Cidr {
    pub(super) fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(bits) if bits.bytes().all(|b| b.is_ascii_digit()) => bits.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (bits <= max).then_some(Cidr { network, bits })
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                prefix_matches(network.to_bits().into(), ip.to_bits().into(), self.bits, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                prefix_matches(network.to_bits(), ip.to_bits(), self.bits, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` of `a` and `b`, numbers `width` bits wide, are the same.
fn prefix_matches(a: u128, b: u128, bits: u8, width: u32) -> bool {
    let shift = width - u32::from(bits);
    // A shift by the full width (a /0 block) would overflow: everything matches.
    shift >= width || (a >> shift) == (b >> shift)
}
