//! `Sha256`: what the hub knows a file by. One type for the digest
//! everywhere (catalog rows, the store's objects, the wire's hex and
//! base64), instead of a mix of hex strings and byte arrays.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A SHA-256 digest. Shown, stored and sent as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 hex digits, either case.
    pub fn parse_hex(s: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        (s.len() == 64 && hex::decode_to_slice(s, &mut bytes).is_ok()).then_some(Self(bytes))
    }

    /// The digest of `data`, at once (for small things; streams hash as they go).
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(data).into())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard base64, as `Content-Digest` and `Repr-Digest` carry it.
    pub fn base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.hex())
    }
}

impl From<[u8; 32]> for Sha256 {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("not 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::Sha256;

    #[test]
    fn reads_back_as_hex_and_base64() {
        let d = Sha256::of(b"abc");
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256::parse_hex(&d.hex().to_uppercase()), Some(d));
        assert_eq!(d.base64(), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        assert_eq!(serde_json::to_value(d).unwrap(), d.hex());
        assert_eq!(serde_json::from_value::<Sha256>(serde_json::json!(d.hex())).unwrap(), d);
        for bad in ["", "ab", &"g".repeat(64), &"a".repeat(63)] {
            assert_eq!(Sha256::parse_hex(bad), None, "{bad}");
        }
    }
}
