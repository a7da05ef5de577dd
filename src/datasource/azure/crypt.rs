//! The admin password of ovf-env.xml hashed as 22.4's `encrypt_pass` does
//! it (`crypt.crypt(password, "$6$" + util.rand_str(16))`): SHA-512 crypt
//! (glibc's `$6$`, 5000 rounds) with a 16-character salt of letters and
//! digits, so only the hash reaches the config and the plain text goes no
//! further than this module.

/// SHA-512 (FIPS 180-4).
pub struct Sha512 {
    state: [u64; 8],
    buf: Vec<u8>,
    len: u128,
}

#[rustfmt::skip]
const K: [u64; 80] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

impl Sha512 {
    pub fn new() -> Sha512 {
        Sha512 {
            state: [
                0x6a09e667f3bcc908,
                0xbb67ae8584caa73b,
                0x3c6ef372fe94f82b,
                0xa54ff53a5f1d36f1,
                0x510e527fade682d1,
                0x9b05688c2b3e6c1f,
                0x1f83d9abfb41bd6b,
                0x5be0cd19137e2179,
            ],
            buf: Vec::with_capacity(128),
            len: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u128;
        while !data.is_empty() {
            let take = (128 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == 128 {
                let block: [u8; 128] = self.buf[..].try_into().expect("128 bytes");
                self.compress(&block);
                self.buf.clear();
            }
        }
    }

    fn compress(&mut self, block: &[u8; 128]) {
        let mut w = [0u64; 80];
        for (i, chunk) in block.chunks_exact(8).enumerate() {
            w[i] = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
        }
        for i in 16..80 {
            let s0 = w[i - 15].rotate_right(1) ^ w[i - 15].rotate_right(8) ^ (w[i - 15] >> 7);
            let s1 = w[i - 2].rotate_right(19) ^ w[i - 2].rotate_right(61) ^ (w[i - 2] >> 6);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = self.state;
        for i in 0..80 {
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }

    pub fn finish(mut self) -> [u8; 64] {
        let bits = self.len * 8;
        self.update(&[0x80]);
        while self.buf.len() != 112 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 64];
        for (chunk, s) in out.chunks_exact_mut(8).zip(self.state) {
            chunk.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    parts.iter().for_each(|p| h.update(p));
    h.finish()
}

/// `len` bytes of `block` repeated.
fn repeated(block: &[u8; 64], len: usize) -> Vec<u8> {
    block.iter().copied().cycle().take(len).collect()
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// glibc's SHA-512 crypt with the default 5000 rounds: `$6$<salt>$<hash>`.
/// The salt is used up to its first 16 bytes, as glibc does.
pub fn sha512_crypt(password: &[u8], salt: &str) -> String {
    let salt = &salt.as_bytes()[..salt.len().min(16)];
    let p = password;
    let b = sha512(&[p, salt, p]);
    let mut a = Sha512::new();
    a.update(p);
    a.update(salt);
    a.update(&repeated(&b, p.len()));
    let mut n = p.len();
    while n > 0 {
        a.update(if n & 1 == 1 { &b[..] } else { p });
        n >>= 1;
    }
    let a = a.finish();
    let mut dp = Sha512::new();
    (0..p.len()).for_each(|_| dp.update(p));
    let p_seq = repeated(&dp.finish(), p.len());
    let mut ds = Sha512::new();
    (0..16 + a[0] as usize).for_each(|_| ds.update(salt));
    let s_seq = repeated(&ds.finish(), salt.len());
    let mut c = a;
    for i in 0..5000 {
        let mut h = Sha512::new();
        h.update(if i % 2 == 1 { &p_seq[..] } else { &c[..] });
        if i % 3 != 0 {
            h.update(&s_seq);
        }
        if i % 7 != 0 {
            h.update(&p_seq);
        }
        h.update(if i % 2 == 1 { &c[..] } else { &p_seq[..] });
        c = h.finish();
    }
    let mut out = format!("$6${}$", String::from_utf8_lossy(salt));
    let mut put = |b2: u8, b1: u8, b0: u8, n: usize| {
        let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
        for _ in 0..n {
            out.push(ITOA64[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    };
    // glibc's byte order for the 64-byte digest: 21 groups of three bytes
    // taken 21 apart, then the last byte.
    for i in 0..21 {
        let (x, y, z) = (i, i + 21, i + 42);
        match i % 3 {
            0 => put(c[x], c[y], c[z], 4),
            1 => put(c[y], c[z], c[x], 4),
            _ => put(c[z], c[x], c[y], 4),
        }
    }
    put(0, 0, c[63], 2);
    out
}

/// 22.4's `util.rand_str(16)`: letters and digits.
pub fn random_salt() -> String {
    use crate::host::Host;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 16];
    crate::host::RealHost.random_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect()
}

/// `encrypt_pass`: the password as a `$6$` hash with a fresh salt.
pub fn encrypt_pass(password: &str) -> String {
    sha512_crypt(password.as_bytes(), &random_salt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha512_vectors() {
        assert_eq!(
            hex(&sha512(&[b"abc"])),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(&sha512(&[&long])),
            hex(&sha512(&[&long[..500], &long[500..]]))
        );
    }

    #[test]
    fn glibc_sha512_crypt_vectors() {
        // Drepper's specification's test vectors (default rounds).
        assert_eq!(
            sha512_crypt(b"Hello world!", "saltstring"),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu\
             esI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert!(encrypt_pass("x").starts_with("$6$"));
        assert_eq!(encrypt_pass("x").len(), 3 + 16 + 1 + 86);
    }
}
