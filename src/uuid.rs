//! Name-based UUIDs as Python's `uuid.uuid5` makes them (RFC 4122 version
//! 5: SHA-1 of the namespace's 16 bytes and the name, cut to 16 bytes,
//! version and variant bits set), for the connection UUIDs cloud-init
//! 22.4's NetworkManager renderer derives from interface names.

/// A UUID in its canonical text form (`8-4-4-4-12` lower-case hex digits);
/// `None` for anything else.
pub fn parse(text: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The canonical text form of `bytes`.
pub fn format(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `str(uuid.uuid5(namespace, name))`: `name` is hashed as UTF-8, as
/// Python encodes a `str` name.
pub fn uuid5(namespace: &[u8; 16], name: &str) -> String {
    let mut data = namespace.to_vec();
    data.extend_from_slice(name.as_bytes());
    let digest = crate::sha1::digest(&data);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50; // version 5
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // the RFC 4122 variant
    format(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_is_pythons() {
        // python3 -c "import uuid; print(uuid.uuid5(uuid.UUID(NS), NAME))"
        let ns = parse("a3924cb8-09e0-43e9-890b-77972a800108").unwrap();
        for (name, want) in [
            ("eth0", "1dd9a779-d327-56e1-8454-c65e2556c12c"),
            ("bond0.42", "d608e849-9979-5755-baaf-edb947d0a9b4"),
            ("", "e36e56bf-35ae-519f-8817-6a9a554f93ae"),
            ("é x", "6c54bd9a-c5e2-5f74-8b03-8944e52c3ee0"),
        ] {
            assert_eq!(uuid5(&ns, name), want, "{name:?}");
        }
        // uuid.NAMESPACE_DNS, the example of Python's documentation.
        let dns = parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8").unwrap();
        assert_eq!(
            uuid5(&dns, "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn parse_and_format_round_trip_and_reject_other_text() {
        let text = "a3924cb8-09e0-43e9-890b-77972a800108";
        assert_eq!(format(&parse(text).unwrap()), text);
        for bad in [
            "",
            "a3924cb809e043e9890b77972a800108",
            "g3924cb8-09e0-43e9-890b-77972a800108",
            "a3924cb8-09e0-43e9-890b-77972a80010",
            "+3924cb8-09e0-43e9-890b-77972a800108",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
