//! The order in which CPython 3.11 iterates a `set` of `str`, with hash
//! randomisation off (`PYTHONHASHSEED=0`).
//!
//! cloud-init puts SSH keys through `set()` before it writes them
//! (`apply_credentials`, `Distro.create_user`), so `authorized_keys` lists
//! them in set order. On a real boot that order changes from boot to boot
//! (Python seeds its string hash at random); the recorded cases
//! (tests/fixtures/modules) ran with `PYTHONHASHSEED=0`. cloudboot writes the
//! keys in that one reproducible order: the same file on every boot, byte
//! for byte what cloud-init 22.4 wrote in the recordings.
//!
//! This is CPython's `Objects/setobject.c` (3.11) for the operations
//! cloud-init uses: `set(list)` and `set(set)`, with `str` hashed by
//! SipHash-1-3 (`Python/pyhash.c`) under an all-zero key.

/// SipHash-1-3 with both keys zero, as `_Py_HashBytes` computes it for a
/// seed of 0; CPython never returns -1 as a hash.
fn siphash13(data: &[u8]) -> i64 {
    let (k0, k1) = (0u64, 0u64);
    let mut v0 = k0 ^ 0x736f_6d65_7073_6575;
    let mut v1 = k1 ^ 0x646f_7261_6e64_6f6d;
    let mut v2 = k0 ^ 0x6c79_6765_6e65_7261;
    let mut v3 = k1 ^ 0x7465_6462_7974_6573;
    let round = |v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64| {
        // HALF_ROUND(v0, v1, v2, v3, 13, 16)
        *v0 = v0.wrapping_add(*v1);
        *v2 = v2.wrapping_add(*v3);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.rotate_left(32);
        // HALF_ROUND(v2, v1, v0, v3, 17, 21)
        *v2 = v2.wrapping_add(*v1);
        *v0 = v0.wrapping_add(*v3);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.rotate_left(32);
    };
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mi = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        v3 ^= mi;
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        v0 ^= mi;
    }
    let mut t = [0u8; 8];
    let rest = chunks.remainder();
    t[..rest.len()].copy_from_slice(rest);
    let b = ((data.len() as u64) << 56) | u64::from_le_bytes(t);
    v3 ^= b;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    v0 ^= b;
    v2 ^= 0xff;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    ((v0 ^ v1) ^ (v2 ^ v3)) as i64
}

/// `hash(s)` for a `str`: the hash of its compact representation (one byte
/// per character up to U+00FF, two up to U+FFFF, else four; little-endian).
pub fn str_hash(s: &str) -> i64 {
    if s.is_empty() {
        return 0;
    }
    let max = s.chars().map(u32::from).max().unwrap_or(0);
    let bytes: Vec<u8> = if max < 0x100 {
        s.chars().map(|c| u32::from(c) as u8).collect()
    } else if max < 0x1_0000 {
        s.chars()
            .flat_map(|c| (u32::from(c) as u16).to_le_bytes())
            .collect()
    } else {
        s.chars().flat_map(|c| u32::from(c).to_le_bytes()).collect()
    };
    match siphash13(&bytes) {
        -1 => -2,
        h => h,
    }
}

const MINSIZE: usize = 8;
const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

/// A CPython set of strings (no deletions, so no dummy entries).
#[derive(Clone, Debug)]
pub struct PySet {
    /// Slots: (hash, key).
    table: Vec<Option<(i64, String)>>,
    fill: usize,
}

impl Default for PySet {
    fn default() -> Self {
        PySet {
            table: vec![None; MINSIZE],
            fill: 0,
        }
    }
}

impl PySet {
    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// `set(iterable)`: `set_add_key` for each item in order.
    pub fn from_items<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> PySet {
        let mut set = PySet::default();
        for item in items {
            set.add(item.as_ref());
        }
        set
    }

    /// `set(other_set)`: `set_update_internal` → `set_merge` into an empty set.
    pub fn copy(&self) -> PySet {
        let mut so = PySet::default();
        if self.fill == 0 {
            return so;
        }
        if self.fill * 5 >= so.mask() * 3 {
            so.resize(self.fill * 2);
        }
        if so.mask() == self.mask() {
            // Same size and no dummies: the table is copied as it is.
            so.table = self.table.clone();
            so.fill = self.fill;
            return so;
        }
        let mask = so.mask();
        for (hash, key) in self.table.iter().flatten() {
            insert_clean(&mut so.table, mask, key.clone(), *hash);
        }
        so.fill = self.fill;
        so
    }

    /// `set_add_entry`.
    pub fn add(&mut self, key: &str) {
        let hash = str_hash(key);
        let mask = self.mask();
        let mut i = (hash as usize) & mask;
        let mut perturb = hash as u64;
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            for j in 0..=probes {
                match &self.table[i + j] {
                    None => {
                        self.table[i + j] = Some((hash, key.to_string()));
                        self.fill += 1;
                        if self.fill * 5 >= mask * 3 {
                            let used = self.fill;
                            self.resize(if used > 50_000 { used * 2 } else { used * 4 });
                        }
                        return;
                    }
                    Some((h, k)) if *h == hash && k == key => return,
                    Some(_) => {}
                }
            }
            i = next_probe(i, &mut perturb, mask);
        }
    }

    /// `set_table_resize`.
    fn resize(&mut self, minused: usize) {
        let mut newsize = MINSIZE;
        while newsize <= minused {
            newsize <<= 1;
        }
        let old = std::mem::replace(&mut self.table, vec![None; newsize]);
        let mask = newsize - 1;
        for (hash, key) in old.into_iter().flatten() {
            insert_clean(&mut self.table, mask, key, hash);
        }
    }

    /// The keys in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.table.iter().flatten().map(|(_, k)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.fill
    }

    pub fn is_empty(&self) -> bool {
        self.fill == 0
    }
}

/// `set_insert_clean`.
fn insert_clean(table: &mut [Option<(i64, String)>], mask: usize, key: String, hash: i64) {
    let mut perturb = hash as u64;
    let mut i = (hash as usize) & mask;
    loop {
        if table[i].is_none() {
            table[i] = Some((hash, key));
            return;
        }
        if i + LINEAR_PROBES <= mask {
            for j in 1..=LINEAR_PROBES {
                if table[i + j].is_none() {
                    table[i + j] = Some((hash, key));
                    return;
                }
            }
        }
        i = next_probe(i, &mut perturb, mask);
    }
}

/// Where CPython probes next after the linear probes from `i`:
/// `perturb >>= PERTURB_SHIFT; i = (i * 5 + 1 + perturb) & mask`.
fn next_probe(i: usize, perturb: &mut u64, mask: usize) -> usize {
    *perturb >>= PERTURB_SHIFT;
    (i.wrapping_mul(5)
        .wrapping_add(1)
        .wrapping_add(*perturb as usize))
        & mask
}

/// The order `for k in set(items)` visits `items` (duplicates dropped).
pub fn set_order<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    PySet::from_items(items)
        .iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_cpython_with_seed_zero() {
        // PYTHONHASHSEED=0 python3.11 -c 'print(hash("..."))'
        assert_eq!(str_hash(""), 0);
        assert_eq!(str_hash("a"), 4_644_417_185_603_328_019);
        assert_eq!(str_hash("ssh-rsa AAAA"), 9_175_871_756_220_709_142);
        assert_eq!(str_hash("é"), 6_047_309_291_227_476_195);
        assert_eq!(str_hash("€x"), -483_395_623_852_268_653);
        assert_eq!(str_hash("😀"), -3_536_540_696_076_613_844);
    }

    /// Many sets, against the python3 of this machine when it is a 3.11
    /// (the recorder's cloud-init ran on Debian 12's 3.11).
    #[test]
    fn set_order_matches_cpython_311() {
        if !crate::skip::require(&[crate::skip::Need::Python311]) {
            return;
        }
        let py = std::path::Path::new("/usr/bin/python3");
        // A small deterministic generator: sets of 0..60 strings, with
        // duplicates, of ASCII, Latin-1, BMP and astral characters.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "abcXYZ019+/= -éü€😀".chars().collect();
        let mut cases: Vec<Vec<String>> = Vec::new();
        for n in 0..120 {
            let count = (next() % 60) as usize;
            let mut items: Vec<String> = Vec::new();
            for _ in 0..count {
                if !items.is_empty() && next() % 7 == 0 {
                    let i = (next() as usize) % items.len();
                    items.push(items[i].clone());
                    continue;
                }
                let len = (next() % 90) as usize;
                let plain = n % 3 != 0;
                let s: String = (0..len)
                    .map(|_| {
                        let k = (next() as usize) % alphabet.len();
                        let c = alphabet[k];
                        if plain && !c.is_ascii() {
                            'k'
                        } else {
                            c
                        }
                    })
                    .collect();
                items.push(format!("ssh-ed25519 {s}"));
            }
            cases.push(items);
        }
        let script = "import json,sys\nfor items in json.load(sys.stdin):\n    print(json.dumps([list(set(items)), list(set(set(items)))]))\n";
        let mut child = std::process::Command::new(py)
            .args(["-c", script])
            .env("PYTHONHASHSEED", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(lines.len(), cases.len());
        for (items, line) in cases.iter().zip(lines) {
            let (once, twice): (Vec<String>, Vec<String>) = serde_json::from_str(line).unwrap();
            let set = PySet::from_items(items);
            assert_eq!(set.iter().collect::<Vec<_>>(), once, "set({items:?})");
            assert_eq!(
                set.copy().iter().collect::<Vec<_>>(),
                twice,
                "set(set({items:?}))"
            );
        }
    }
}
