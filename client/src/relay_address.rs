//! Where a relay is and which certificate it must present: `host:port#<64 hex digits>`, as the
//! relay prints at start-up.

use core::fmt;
use core::str::FromStr;

use thiserror::Error;

/// A relay address: host, port and the SHA-256 fingerprint of its certificate (pinned).
#[derive(Clone, PartialEq, Eq)]
pub struct RelayAddress {
    /// Host name or IP address.
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// SHA-256 of the relay's certificate.
    pub fingerprint: [u8; 32],
}

/// Why text is not a relay address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RelayAddressError {
    /// No `#` before the fingerprint.
    #[error("a relay address looks like host:port#fingerprint (64 hex digits); no '#' found")]
    MissingFingerprint,
    /// The fingerprint is not 64 hex digits.
    #[error("the fingerprint after '#' must be 64 hex digits")]
    BadFingerprint,
    /// No `:port`, or not a number from 1 to 65535.
    #[error("a relay address needs a port (host:port#fingerprint)")]
    BadPort,
    /// Empty host.
    #[error("a relay address needs a host (host:port#fingerprint)")]
    MissingHost,
    /// The host is `0.0.0.0` or `::`: where a relay listens (every interface), not an address a
    /// client can reach it at.
    #[error(
        "{0} is where a relay listens (every interface), not an address to reach it at: give the \
         loopback or interface address the relay printed"
    )]
    Unspecified(String),
}

impl FromStr for RelayAddress {
    type Err = RelayAddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (endpoint, fingerprint) = text
            .trim()
            .rsplit_once('#')
            .ok_or(RelayAddressError::MissingFingerprint)?;
        let fingerprint = hush_net::from_hex::<32>(fingerprint).ok_or(RelayAddressError::BadFingerprint)?;
        let (host, port) = endpoint.rsplit_once(':').ok_or(RelayAddressError::BadPort)?;
        let port: u16 = port.parse().map_err(|_| RelayAddressError::BadPort)?;
        if port == 0 {
            return Err(RelayAddressError::BadPort);
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(RelayAddressError::MissingHost);
        }
        if host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_unspecified())
        {
            return Err(RelayAddressError::Unspecified(host.to_owned()));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            fingerprint,
        })
    }
}

impl fmt::Display for RelayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fingerprint = hush_net::to_hex(&self.fingerprint);
        if self.host.contains(':') {
            write!(f, "[{}]:{}#{fingerprint}", self.host, self.port)
        } else {
            write!(f, "{}:{}#{fingerprint}", self.host, self.port)
        }
    }
}

impl fmt::Debug for RelayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayAddress({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_relay_prints() {
        let text = format!("127.0.0.1:7443#{}", "ab".repeat(32));
        let address: RelayAddress = text.parse().unwrap();
        assert_eq!(address.host, "127.0.0.1");
        assert_eq!(address.port, 7443);
        assert_eq!(address.fingerprint, [0xab; 32]);
        assert_eq!(address.to_string(), text);
        let v6: RelayAddress = format!("[::1]:9#{}", "00".repeat(32)).parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string().parse::<RelayAddress>().unwrap(), v6);
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let fp = "ab".repeat(32);
        assert_eq!(
            "127.0.0.1:7443".parse::<RelayAddress>(),
            Err(RelayAddressError::MissingFingerprint)
        );
        assert_eq!(
            "h:1#abc".parse::<RelayAddress>(),
            Err(RelayAddressError::BadFingerprint)
        );
        assert_eq!(
            format!("host#{fp}").parse::<RelayAddress>(),
            Err(RelayAddressError::BadPort)
        );
        assert_eq!(
            format!("host:0#{fp}").parse::<RelayAddress>(),
            Err(RelayAddressError::BadPort)
        );
        assert_eq!(
            format!(":7#{fp}").parse::<RelayAddress>(),
            Err(RelayAddressError::MissingHost)
        );
        for listen in ["0.0.0.0", "[::]"] {
            assert!(matches!(
                format!("{listen}:7443#{fp}").parse::<RelayAddress>(),
                Err(RelayAddressError::Unspecified(_))
            ));
        }
    }
}
