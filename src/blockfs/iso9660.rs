//! ISO9660 (ECMA-119) read in place, with Rock Ridge (RRIP, IEEE P1282,
//! carried by SUSP, IEEE P1281) and Joliet names: what OpenStack config
//! drives (`config-2`, made with `genisoimage -J -r`) and NoCloud seeds
//! (`cidata`, made by `cloud-localds`) come on.
//!
//! Names are chosen the way Linux's `isofs` chooses them with its default
//! options: Rock Ridge when the root carries it, else Joliet when a Joliet
//! supplementary volume descriptor is present, else the plain ISO9660 names
//! mapped as `map=normal` does (lower-cased, version `;1` and an empty
//! extension's `.` dropped). Joliet names are looked up ignoring case, as
//! Linux does by default for them (`check=relaxed`); plain names too (Linux
//! shows them lower-cased but matches them strictly, so this only adds the
//! upper-case spelling as recorded); Rock Ridge names exactly.
//!
//! Everything read from the image is distrusted: every offset and length is
//! checked against the image size before it is read, and every count, size,
//! chain and depth is capped (see the `MAX_*` constants), so a corrupt or
//! hostile image yields [`FsError::Corrupt`] or [`FsError::TooLarge`] naming
//! the field and its byte offset, never a panic, an endless loop or a huge
//! allocation.

use std::io;

use super::{DirEntry, Filesystem, FsError, ReadAt};

/// The volume descriptors, and the unit in which directory records may not
/// straddle a boundary, are 2048-byte logical sectors whatever the logical
/// block size (ECMA-119 6.1.2, 6.8.1.1).
const SECTOR: u64 = 2048;
/// The volume descriptor set starts at sector 16, after the system area.
const FIRST_DESCRIPTOR_SECTOR: u64 = 16;
/// Real images have 2 to 5 descriptors (primary, boot record, Joliet,
/// terminator). A missing terminator within this many sectors is
/// corruption, not a reason to read on.
const MAX_DESCRIPTORS: u64 = 64;
/// A directory's extent is read whole; 16 MiB holds [`MAX_DIR_ENTRIES`]
/// records even at the 255-byte maximum, far past any seed.
const MAX_DIR_BYTES: u64 = 16 << 20;
/// Records in one directory (multi-extent parts counted one by one).
const MAX_DIR_ENTRIES: usize = 65_536;
/// Directory extents and Rock Ridge continuation areas read by one call
/// (the lookup and the listing at its end). Without it, a hostile image
/// could make one lookup re-read a 16 MiB directory thousands of times, or
/// 65,536 records each chain 32 continuation areas; a real seed's lookups
/// read a few KiB.
const MAX_METADATA_BYTES_PER_CALL: u64 = 64 << 20;
/// Continuation areas (`CE`) chained from one record; Linux's limit too.
const MAX_CE_PER_RECORD: usize = 32;
/// Directories nested in one lookup; deeper than any real tree (ECMA-119
/// itself allows 8 levels, Rock Ridge relocates deeper ones).
const MAX_DEPTH: usize = 256;
/// Path components processed in one lookup, symbolic link targets included.
const MAX_LOOKUP_STEPS: usize = 4096;
/// Symbolic links followed in one lookup; Linux's MAXSYMLINKS.
const MAX_SYMLINK_HOPS: usize = 40;
/// A name is at most NAME_MAX bytes, as on Linux.
const MAX_NAME_BYTES: usize = 255;
/// A symbolic link target is at most PATH_MAX - 1 bytes.
const MAX_SYMLINK_BYTES: usize = 4095;

const FLAG_DIRECTORY: u8 = 0x02;
const FLAG_ASSOCIATED: u8 = 0x04;
const FLAG_MULTI_EXTENT: u8 = 0x80;

/// Extension identifiers an `ER` entry gives for Rock Ridge (RRIP 1.09,
/// 1.10, 1.12).
const RRIP_IDS: [&[u8]; 3] = [b"RRIP_1991A", b"IEEE_P1282", b"IEEE_1282"];

/// Which names the reader shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// Rock Ridge `NM` names (POSIX names, any case and length).
    RockRidge,
    /// Joliet UCS-2 names from the supplementary volume descriptor.
    Joliet,
    /// Plain ISO9660 names, lower-cased like Linux's `map=normal`.
    Iso9660,
}

/// An ISO9660 filesystem on a device or image, read in place.
pub struct Iso9660<R: ReadAt> {
    dev: R,
    label: String,
    block_size: u64,
    root: DirExtent,
    names: Names,
    /// Bytes to skip at the start of each System Use area (the `SP` entry's
    /// LEN_SKP); meaningful only with Rock Ridge.
    susp_skip: usize,
}

/// Where a directory's records are.
#[derive(Clone, Copy, Debug)]
struct DirExtent {
    /// Byte offset in the image.
    start: u64,
    size: u64,
    /// Byte offset of the record that pointed here, for messages.
    record_offset: u64,
}

/// A run of file data.
#[derive(Clone, Copy, Debug)]
struct Extent {
    start: u64,
    len: u64,
}

#[derive(Clone, Debug)]
enum Kind {
    Dir(DirExtent),
    File {
        extents: Vec<Extent>,
        /// Why the data cannot be read as stored (interleaving, compression).
        unsupported: Option<String>,
    },
    Symlink(String),
}

/// A directory entry as this reader names and classifies it.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    kind: Kind,
    record_offset: u64,
}

impl Entry {
    fn size(&self) -> u64 {
        match &self.kind {
            Kind::Dir(d) => d.size,
            Kind::File { extents, .. } => extents.iter().map(|e| e.len).sum(),
            // As lstat reports it.
            Kind::Symlink(target) => target.len() as u64,
        }
    }

    fn dir_entry(&self) -> DirEntry {
        DirEntry {
            name: self.name.clone(),
            is_dir: matches!(self.kind, Kind::Dir(_)),
            size: self.size(),
        }
    }
}

/// Counts the metadata bytes one call reads, against
/// [`MAX_METADATA_BYTES_PER_CALL`].
struct Budget {
    spent: u64,
}

impl Budget {
    fn new() -> Budget {
        Budget { spent: 0 }
    }

    fn spend(&mut self, bytes: u64, what: impl FnOnce() -> String) -> Result<(), FsError> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > MAX_METADATA_BYTES_PER_CALL {
            return Err(FsError::TooLarge(format!(
                "{}: reading it would pass the limit of {MAX_METADATA_BYTES_PER_CALL} bytes of directory data for one lookup",
                what()
            )));
        }
        Ok(())
    }
}

/// What a path lookup ends on.
enum Node {
    Dir(DirExtent),
    Other(Entry),
}

fn corrupt(message: String) -> FsError {
    FsError::Corrupt(message)
}

/// `/`, or the path with one leading `/`, for messages.
fn shown(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

/// A both-endian 16-bit field (ECMA-119 7.2.3): the little-endian half,
/// checked against the big-endian half.
fn both16(bytes: &[u8], at: usize, field: &str, base: u64) -> Result<u16, FsError> {
    let raw: [u8; 4] = bytes
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            corrupt(format!(
                "{field} at offset {}: field cut short",
                base + at as u64
            ))
        })?;
    let le = u16::from_le_bytes([raw[0], raw[1]]);
    let be = u16::from_be_bytes([raw[2], raw[3]]);
    if le != be {
        return Err(corrupt(format!(
            "{field} at offset {}: little-endian half {le} does not match big-endian half {be}",
            base + at as u64
        )));
    }
    Ok(le)
}

/// A both-endian 32-bit field (ECMA-119 7.3.3), checked like [`both16`].
fn both32(bytes: &[u8], at: usize, field: &str, base: u64) -> Result<u32, FsError> {
    let raw: [u8; 8] = bytes
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            corrupt(format!(
                "{field} at offset {}: field cut short",
                base + at as u64
            ))
        })?;
    let le = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let be = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
    if le != be {
        return Err(corrupt(format!(
            "{field} at offset {}: little-endian half {le} does not match big-endian half {be}",
            base + at as u64
        )));
    }
    Ok(le)
}

/// The volume identifier as blkid shows it: trailing blanks (and NUL
/// padding some tools write) trimmed.
fn volume_id(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |p| p + 1);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Cuts a `;<digits>` version off a name (ECMA-119 7.5.1).
fn strip_version(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b';') {
        Some(p) if name[p + 1..].iter().all(u8::is_ascii_digit) => &name[..p],
        _ => name,
    }
}

/// A plain ISO9660 name as Linux shows it with `map=normal`: version and
/// the `.` of an empty extension dropped (`NOEXT.;1` is `noext`), lower-cased;
/// a NUL ends it and a stray `;` or `/` becomes `.` (as Linux does), so the
/// name never contains a path separator.
fn plain_name(ident: &[u8]) -> String {
    let ident = match ident.iter().position(|&b| b == 0) {
        Some(p) => &ident[..p],
        None => ident,
    };
    let mut name = strip_version(ident);
    if name.len() > 1 && name.ends_with(b".") {
        name = &name[..name.len() - 1];
    }
    let mapped: Vec<u8> = name
        .iter()
        .map(|&b| match b {
            b';' | b'/' => b'.',
            _ => b.to_ascii_lowercase(),
        })
        .collect();
    String::from_utf8_lossy(&mapped).into_owned()
}

/// A Joliet name: UCS-2 big-endian (decoded as UTF-16, so surrogate pairs
/// some tools write come out whole), version and trailing dots dropped as
/// Linux does (Windows forbids them, so writers add them only as padding).
fn joliet_name(ident: &[u8]) -> String {
    let units = ident
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let decoded: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let mut name = match decoded.rfind(';') {
        Some(p) if decoded[p + 1..].bytes().all(|b| b.is_ascii_digit()) => &decoded[..p],
        _ => decoded.as_str(),
    };
    if !name.bytes().all(|b| b == b'.') {
        name = name.trim_end_matches('.');
    }
    name.to_string()
}

/// One directory record (ECMA-119 9.1), borrowed from the directory's bytes.
struct Record<'a> {
    /// Byte offset of the record in the image.
    offset: u64,
    extent: u32,
    ext_attr_blocks: u8,
    size: u32,
    flags: u8,
    file_unit_size: u8,
    interleave_gap: u8,
    ident: &'a [u8],
    system_use: &'a [u8],
    /// Byte offset of the System Use area in the image.
    system_use_offset: u64,
}

impl<'a> Record<'a> {
    /// `bytes` is exactly the record (its length byte says how long).
    fn parse(bytes: &'a [u8], offset: u64) -> Result<Self, FsError> {
        let len = bytes.len();
        if len < 34 {
            return Err(corrupt(format!(
                "directory record at offset {offset} has length {len}, shorter than the 34-byte minimum"
            )));
        }
        let ident_len = bytes[32] as usize;
        if ident_len == 0 || 33 + ident_len > len {
            return Err(corrupt(format!(
                "directory record at offset {offset}: file identifier length {ident_len} does not fit the record length {len}"
            )));
        }
        let extent = both32(bytes, 2, "directory record extent location", offset)?;
        let size = both32(bytes, 10, "directory record data length", offset)?;
        // A padding byte follows an even-length identifier so the System
        // Use area starts at an even offset.
        let system_use_start = (33 + ident_len + (ident_len + 1) % 2).min(len);
        Ok(Record {
            offset,
            extent,
            ext_attr_blocks: bytes[1],
            size,
            flags: bytes[25],
            file_unit_size: bytes[26],
            interleave_gap: bytes[27],
            ident: &bytes[33..33 + ident_len],
            system_use: &bytes[system_use_start..],
            system_use_offset: offset + system_use_start as u64,
        })
    }

    fn is_dir(&self) -> bool {
        self.flags & FLAG_DIRECTORY != 0
    }

    /// The `.` and `..` records, identified by the bytes 0 and 1.
    fn is_self_or_parent(&self) -> bool {
        self.ident == [0] || self.ident == [1]
    }

    /// Byte offset of the data: the extended attribute record, if any,
    /// comes first and is not part of the data length (ECMA-119 9.1.4).
    fn data_start(&self, block_size: u64) -> u64 {
        (u64::from(self.extent) + u64::from(self.ext_attr_blocks)) * block_size
    }
}

/// A `CE` entry: where the System Use entries go on.
struct Continuation {
    block: u32,
    offset: u32,
    len: u32,
    entry_offset: u64,
}

/// What the System Use entries of one record say (SUSP and Rock Ridge).
#[derive(Default)]
struct Susp {
    /// The `SP` entry's LEN_SKP (only the root's `.` record has one).
    sp_skip: Option<u8>,
    /// An `ER` entry names Rock Ridge, or a Rock Ridge entry was seen.
    rock_ridge: bool,
    name: Option<Vec<u8>>,
    name_complete: bool,
    symlink: Option<Vec<u8>>,
    symlink_complete: bool,
    /// A `/` goes before the next symlink component.
    symlink_separator: bool,
    /// `CL`: a relocated directory's real place (deep trees).
    child_link: Option<u32>,
    /// `RE`: this is the relocated directory itself, hidden where it sits.
    relocated: bool,
    /// `ZF`: the data is zisofs-compressed.
    zisofs: bool,
}

impl Susp {
    /// Reads the entries of one System Use area or continuation area;
    /// returns the continuation to read next, if any.
    fn scan(&mut self, area: &[u8], area_offset: u64) -> Result<Option<Continuation>, FsError> {
        let mut next = None;
        let mut at = 0;
        while at + 4 <= area.len() {
            let len = area[at + 2] as usize;
            // Shorter than a header: the zero padding some writers leave.
            if len < 4 {
                break;
            }
            let entry_offset = area_offset + at as u64;
            let signature = [area[at], area[at + 1]];
            let Some(entry) = area.get(at..at + len) else {
                return Err(corrupt(format!(
                    "System Use entry {} at offset {entry_offset} has length {len}, past the end of its area ({} bytes left)",
                    String::from_utf8_lossy(&signature),
                    area.len() - at
                )));
            };
            match &signature {
                b"CE" => next = Some(Self::continuation(entry, entry_offset)?),
                b"ST" => break,
                b"SP" if len >= 7 && entry[4..6] == [0xBE, 0xEF] => {
                    self.sp_skip = Some(entry[6]);
                }
                b"ER" if len >= 8 => {
                    let id_len = entry[4] as usize;
                    if let Some(id) = entry.get(8..8 + id_len) {
                        self.rock_ridge |= RRIP_IDS.contains(&id);
                    }
                }
                b"RR" | b"PX" | b"PN" | b"TF" | b"PL" | b"SF" => self.rock_ridge = true,
                b"NM" => {
                    self.rock_ridge = true;
                    self.name_entry(entry, entry_offset)?;
                }
                b"SL" => {
                    self.rock_ridge = true;
                    self.symlink_entry(entry, entry_offset)?;
                }
                b"CL" => {
                    self.rock_ridge = true;
                    self.child_link =
                        Some(both32(entry, 4, "Rock Ridge CL location", entry_offset)?);
                }
                b"RE" => {
                    self.rock_ridge = true;
                    self.relocated = true;
                }
                b"ZF" => self.zisofs = true,
                _ => {}
            }
            at += len;
        }
        Ok(next)
    }

    fn continuation(entry: &[u8], entry_offset: u64) -> Result<Continuation, FsError> {
        if entry.len() < 28 {
            return Err(corrupt(format!(
                "System Use entry CE at offset {entry_offset} has length {}, not 28",
                entry.len()
            )));
        }
        Ok(Continuation {
            block: both32(entry, 4, "CE block location", entry_offset)?,
            offset: both32(entry, 12, "CE offset", entry_offset)?,
            len: both32(entry, 20, "CE length", entry_offset)?,
            entry_offset,
        })
    }

    /// `NM`: a name, possibly split over several entries (flag bit 0).
    fn name_entry(&mut self, entry: &[u8], entry_offset: u64) -> Result<(), FsError> {
        if self.name_complete || entry.len() < 5 {
            return Ok(());
        }
        let flags = entry[4];
        // Bits 1 and 2 mark the names of `.` and `..`, which we never show.
        if flags & 0x06 != 0 {
            return Ok(());
        }
        let mut content = &entry[5..];
        if let Some(nul) = content.iter().position(|&b| b == 0) {
            content = &content[..nul];
        }
        let name = self.name.get_or_insert_with(Vec::new);
        name.extend_from_slice(content);
        if name.len() > MAX_NAME_BYTES {
            return Err(corrupt(format!(
                "Rock Ridge name (NM) at offset {entry_offset} is longer than {MAX_NAME_BYTES} bytes"
            )));
        }
        if flags & 0x01 == 0 {
            self.name_complete = true;
        }
        Ok(())
    }

    /// `SL`: a symbolic link target as components (RRIP 4.1.3.1), possibly
    /// split over several entries (flag bit 0), a component possibly split
    /// over several component records (component flag bit 0).
    fn symlink_entry(&mut self, entry: &[u8], entry_offset: u64) -> Result<(), FsError> {
        if self.symlink_complete || entry.len() < 5 {
            return Ok(());
        }
        let entry_flags = entry[4];
        let target = self.symlink.get_or_insert_with(Vec::new);
        let mut at = 5;
        while at + 2 <= entry.len() {
            let flags = entry[at];
            let len = entry[at + 1] as usize;
            let Some(text) = entry.get(at + 2..at + 2 + len) else {
                return Err(corrupt(format!(
                    "Rock Ridge symbolic link (SL) at offset {entry_offset}: component at byte {at} with length {len} overruns the entry"
                )));
            };
            let part: &[u8] = match flags & !0x01 {
                0x00 => text,
                0x02 => b".",
                0x04 => b"..",
                0x08 => b"/",
                // Volume root and host name have no meaning here.
                _ => b"",
            };
            if self.symlink_separator {
                target.push(b'/');
            }
            target.extend_from_slice(part);
            self.symlink_separator = flags & 0x08 == 0 && flags & 0x01 == 0;
            if target.len() > MAX_SYMLINK_BYTES {
                return Err(corrupt(format!(
                    "Rock Ridge symbolic link (SL) at offset {entry_offset} is longer than {MAX_SYMLINK_BYTES} bytes"
                )));
            }
            at += 2 + len;
        }
        if entry_flags & 0x01 == 0 {
            self.symlink_complete = true;
        }
        Ok(())
    }
}

/// Reads the volume label without building a reader: the primary volume
/// descriptor at sector 16, its volume identifier with trailing blanks
/// trimmed. `None` when there is no ISO9660 primary descriptor there.
pub fn probe_label(dev: &dyn ReadAt) -> Option<String> {
    let descriptor = dev
        .read_exact_at(FIRST_DESCRIPTOR_SECTOR * SECTOR, 72)
        .ok()?;
    if descriptor[0] != 1 || &descriptor[1..6] != b"CD001" {
        return None;
    }
    Some(volume_id(&descriptor[40..72]))
}

impl<R: ReadAt> Iso9660<R> {
    /// Reads the volume descriptors and picks the naming.
    /// [`FsError::NotThisFs`] when sector 16 carries no `CD001` descriptor.
    pub fn open(dev: R) -> Result<Self, FsError> {
        if dev.size() < (FIRST_DESCRIPTOR_SECTOR + 1) * SECTOR {
            return Err(FsError::NotThisFs("iso9660"));
        }
        let mut primary: Option<(Vec<u8>, u64)> = None;
        let mut joliet: Option<(Vec<u8>, u64)> = None;
        let mut terminated = false;
        for index in 0..MAX_DESCRIPTORS {
            let sector = FIRST_DESCRIPTOR_SECTOR + index;
            let offset = sector * SECTOR;
            if offset + SECTOR > dev.size() {
                return Err(corrupt(format!(
                    "the image ends at {} bytes, inside the volume descriptor set (sector {sector}, before its terminator)",
                    dev.size()
                )));
            }
            let descriptor = dev.read_exact_at(offset, SECTOR as usize)?;
            if &descriptor[1..6] != b"CD001" {
                if index == 0 {
                    return Err(FsError::NotThisFs("iso9660"));
                }
                return Err(corrupt(format!(
                    "volume descriptor at sector {sector} (offset {offset}) lacks the CD001 identifier; the set ends before its terminator"
                )));
            }
            match descriptor[0] {
                1 if primary.is_none() => primary = Some((descriptor, offset)),
                // Joliet: a supplementary descriptor whose escape sequences
                // name UCS-2 level 1, 2 or 3.
                2 if joliet.is_none()
                    && descriptor[88] == b'%'
                    && descriptor[89] == b'/'
                    && matches!(descriptor[90], b'@' | b'C' | b'E') =>
                {
                    joliet = Some((descriptor, offset))
                }
                255 => {
                    terminated = true;
                    break;
                }
                _ => {}
            }
        }
        if !terminated {
            return Err(corrupt(format!(
                "no volume descriptor set terminator in sectors {FIRST_DESCRIPTOR_SECTOR}..{}",
                FIRST_DESCRIPTOR_SECTOR + MAX_DESCRIPTORS
            )));
        }
        let Some((primary, pvd_offset)) = primary else {
            return Err(corrupt(
                "the volume descriptor set has no primary volume descriptor".to_string(),
            ));
        };
        let block_size = u64::from(both16(
            &primary,
            128,
            "primary volume descriptor logical block size",
            pvd_offset,
        )?);
        if !matches!(block_size, 512 | 1024 | 2048) {
            return Err(corrupt(format!(
                "primary volume descriptor logical block size at offset {} is {block_size}; it must be 512, 1024 or 2048",
                pvd_offset + 128
            )));
        }
        let label = volume_id(&primary[40..72]);
        let root = Self::root_from_descriptor(&primary, pvd_offset, block_size, "primary")?;
        let mut fs = Iso9660 {
            dev,
            label,
            block_size,
            root,
            names: Names::Iso9660,
            susp_skip: 0,
        };
        if let Some(skip) = fs.detect_rock_ridge()? {
            fs.names = Names::RockRidge;
            fs.susp_skip = skip;
        } else if let Some((svd, svd_offset)) = joliet {
            let svd_block_size = u64::from(both16(
                &svd,
                128,
                "Joliet volume descriptor logical block size",
                svd_offset,
            )?);
            if svd_block_size != block_size {
                return Err(corrupt(format!(
                    "Joliet volume descriptor logical block size at offset {} is {svd_block_size}, not the primary's {block_size}",
                    svd_offset + 128
                )));
            }
            fs.root = Self::root_from_descriptor(&svd, svd_offset, block_size, "Joliet")?;
            fs.names = Names::Joliet;
        }
        Ok(fs)
    }

    /// The root directory record at bytes 156..190 of a volume descriptor.
    fn root_from_descriptor(
        descriptor: &[u8],
        descriptor_offset: u64,
        block_size: u64,
        which: &str,
    ) -> Result<DirExtent, FsError> {
        let offset = descriptor_offset + 156;
        let bytes = &descriptor[156..190];
        if bytes[0] != 34 {
            return Err(corrupt(format!(
                "{which} volume descriptor root directory record at offset {offset} has length {}, not 34",
                bytes[0]
            )));
        }
        let record = Record::parse(bytes, offset)?;
        if !record.is_dir() {
            return Err(corrupt(format!(
                "{which} volume descriptor root directory record at offset {offset} is not flagged as a directory"
            )));
        }
        Ok(DirExtent {
            start: record.data_start(block_size),
            size: u64::from(record.size),
            record_offset: offset,
        })
    }

    /// Rock Ridge is in use when the root's `.` record starts its System
    /// Use area with an `SP` entry (SUSP 5.3) and its entries (continuation
    /// areas included) name Rock Ridge. Returns the LEN_SKP to apply.
    fn detect_rock_ridge(&self) -> Result<Option<usize>, FsError> {
        if self.root.size == 0 {
            return Ok(None);
        }
        let first = self.read_checked(self.root.start, 1, || {
            format!(
                "root directory (record at offset {})",
                self.root.record_offset
            )
        })?;
        let len = u64::from(first[0]);
        if len == 0 || len > self.root.size {
            return Ok(None);
        }
        let bytes = self.read_checked(self.root.start, len, || {
            "the root directory's first record".to_string()
        })?;
        let record = Record::parse(&bytes, self.root.start)?;
        if !record.is_self_or_parent() {
            return Ok(None);
        }
        let area = record.system_use;
        if area.len() < 7 || &area[0..2] != b"SP" || area[2] < 7 || area[4..6] != [0xBE, 0xEF] {
            return Ok(None);
        }
        let susp = self.system_use(area, record.system_use_offset, &mut Budget::new())?;
        Ok(match susp.sp_skip {
            Some(skip) if susp.rock_ridge => Some(skip as usize),
            _ => None,
        })
    }

    /// Which names this reader shows.
    pub fn names(&self) -> Names {
        self.names
    }

    /// Reads `len` bytes at `start` after checking they are inside the
    /// image, naming `what` pointed there if not.
    fn read_checked(
        &self,
        start: u64,
        len: u64,
        what: impl Fn() -> String,
    ) -> Result<Vec<u8>, FsError> {
        let size = self.dev.size();
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(corrupt(format!(
                "{}: {len} bytes at offset {start} go past the end of the image ({size} bytes)",
                what()
            )));
        }
        self.dev.read_exact_at(start, len as usize)
    }

    /// All System Use entries of a record, following `CE` continuation
    /// areas: at most [`MAX_CE_PER_RECORD`] of them, none twice, each inside
    /// one logical block and inside the image.
    fn system_use(
        &self,
        area: &[u8],
        area_offset: u64,
        budget: &mut Budget,
    ) -> Result<Susp, FsError> {
        let mut susp = Susp::default();
        let mut next = susp.scan(area, area_offset)?;
        let mut visited: Vec<u64> = Vec::new();
        while let Some(ce) = next {
            let at = ce.entry_offset;
            if visited.len() >= MAX_CE_PER_RECORD {
                return Err(corrupt(format!(
                    "continuation (CE) at offset {at}: more than {MAX_CE_PER_RECORD} continuation areas chained from one record"
                )));
            }
            if u64::from(ce.offset) + u64::from(ce.len) > self.block_size {
                return Err(corrupt(format!(
                    "continuation (CE) at offset {at}: offset {} and length {} overrun its {}-byte block",
                    ce.offset, ce.len, self.block_size
                )));
            }
            let start = u64::from(ce.block) * self.block_size + u64::from(ce.offset);
            if visited.contains(&start) {
                return Err(corrupt(format!(
                    "continuation (CE) at offset {at} loops back to the area at offset {start}"
                )));
            }
            visited.push(start);
            budget.spend(u64::from(ce.len), || {
                format!("continuation (CE) at offset {at}")
            })?;
            let data = self.read_checked(start, u64::from(ce.len), || {
                format!(
                    "continuation (CE) at offset {at} (block {}, offset {})",
                    ce.block, ce.offset
                )
            })?;
            next = susp.scan(&data, start)?;
        }
        Ok(susp)
    }

    /// A relocated directory's extent, from the `.` record at the block a
    /// `CL` entry names.
    fn relocated_dir(&self, block: u32, cl_record: u64) -> Result<DirExtent, FsError> {
        let start = u64::from(block) * self.block_size;
        let what = || format!("child link (CL) in the record at offset {cl_record}");
        let len = self.read_checked(start, 1, what)?[0];
        let bytes = self.read_checked(start, u64::from(len), what)?;
        let record = Record::parse(&bytes, start)?;
        if record.ident != [0] || !record.is_dir() || u64::from(record.extent) != u64::from(block) {
            return Err(corrupt(format!(
                "child link (CL) in the record at offset {cl_record} points to block {block}, which does not start with its own '.' record"
            )));
        }
        Ok(DirExtent {
            start: record.data_start(self.block_size),
            size: u64::from(record.size),
            record_offset: cl_record,
        })
    }

    /// The entries of a directory, named and classified; `.`, `..`,
    /// associated files and relocated directories left out, multi-extent
    /// files joined.
    fn entries(
        &self,
        dir: &DirExtent,
        path: &str,
        budget: &mut Budget,
    ) -> Result<Vec<Entry>, FsError> {
        if dir.size > MAX_DIR_BYTES {
            return Err(FsError::TooLarge(format!(
                "directory {} (record at offset {}) has {} bytes, more than the limit of {MAX_DIR_BYTES}",
                shown(path),
                dir.record_offset,
                dir.size
            )));
        }
        budget.spend(dir.size, || {
            format!(
                "directory {} (record at offset {})",
                shown(path),
                dir.record_offset
            )
        })?;
        let bytes = self.read_checked(dir.start, dir.size, || {
            format!(
                "directory {} (record at offset {})",
                shown(path),
                dir.record_offset
            )
        })?;
        let mut entries: Vec<Entry> = Vec::new();
        // A multi-extent file being joined: its entry and raw identifier.
        let mut open_multi: Option<(Entry, Vec<u8>)> = None;
        let mut records = 0usize;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let offset = dir.start + pos as u64;
            let sector_end =
                ((offset / SECTOR + 1) * SECTOR - dir.start).min(bytes.len() as u64) as usize;
            let len = bytes[pos] as usize;
            if len == 0 {
                // Records do not straddle sectors; the rest is padding.
                pos = sector_end;
                continue;
            }
            if pos + len > sector_end {
                return Err(corrupt(format!(
                    "directory {}: record at offset {offset} with length {len} crosses the sector boundary at offset {}",
                    shown(path),
                    dir.start + sector_end as u64
                )));
            }
            let record = Record::parse(&bytes[pos..pos + len], offset)?;
            pos += len;
            records += 1;
            if records > MAX_DIR_ENTRIES {
                return Err(FsError::TooLarge(format!(
                    "directory {} has more than {MAX_DIR_ENTRIES} records (record at offset {offset})",
                    shown(path)
                )));
            }
            if let Some((mut entry, ident)) = open_multi.take() {
                if record.ident != ident.as_slice() {
                    return Err(corrupt(format!(
                        "directory {}: multi-extent file '{}' (record at offset {}) is followed at offset {offset} by another name",
                        shown(path),
                        entry.name,
                        entry.record_offset
                    )));
                }
                if record.is_dir() {
                    return Err(corrupt(format!(
                        "directory {}: part of multi-extent file '{}' at offset {offset} is flagged as a directory",
                        shown(path),
                        entry.name
                    )));
                }
                if let Kind::File {
                    extents,
                    unsupported,
                } = &mut entry.kind
                {
                    extents.push(Extent {
                        start: record.data_start(self.block_size),
                        len: u64::from(record.size),
                    });
                    if record.file_unit_size != 0 || record.interleave_gap != 0 {
                        *unsupported = Some(Self::interleaved(&record));
                    }
                }
                if record.flags & FLAG_MULTI_EXTENT != 0 {
                    open_multi = Some((entry, ident));
                } else {
                    entries.push(entry);
                }
                continue;
            }
            if record.is_self_or_parent() || record.flags & FLAG_ASSOCIATED != 0 {
                continue;
            }
            let Some(entry) = self.entry(&record, path, budget)? else {
                continue;
            };
            if record.flags & FLAG_MULTI_EXTENT != 0 {
                if record.is_dir() {
                    return Err(corrupt(format!(
                        "directory {}: directory '{}' at offset {offset} is flagged multi-extent",
                        shown(path),
                        entry.name
                    )));
                }
                if let Kind::File { .. } = entry.kind {
                    open_multi = Some((entry, record.ident.to_vec()));
                    continue;
                }
            }
            entries.push(entry);
        }
        if let Some((entry, _)) = open_multi {
            return Err(corrupt(format!(
                "directory {} ends inside multi-extent file '{}' (record at offset {}): its last part is missing",
                shown(path),
                entry.name,
                entry.record_offset
            )));
        }
        Ok(entries)
    }

    fn interleaved(record: &Record) -> String {
        format!(
            "interleaved file (unit size {}, gap {}, record at offset {}), which is not supported",
            record.file_unit_size, record.interleave_gap, record.offset
        )
    }

    /// One record as an entry; `None` for a Rock Ridge relocated directory,
    /// which shows up where its `CL` link is instead.
    fn entry(
        &self,
        record: &Record,
        path: &str,
        budget: &mut Budget,
    ) -> Result<Option<Entry>, FsError> {
        let mut susp = Susp::default();
        let name = match self.names {
            Names::Iso9660 => plain_name(record.ident),
            Names::Joliet => joliet_name(record.ident),
            Names::RockRidge => {
                let area = record.system_use.get(self.susp_skip..).unwrap_or(&[]);
                let area_offset = record.system_use_offset + self.susp_skip as u64;
                susp = self.system_use(area, area_offset, budget)?;
                if susp.relocated {
                    return Ok(None);
                }
                match &susp.name {
                    Some(name) => String::from_utf8_lossy(name).into_owned(),
                    None => plain_name(record.ident),
                }
            }
        };
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(corrupt(format!(
                "directory {}: the record at offset {} has the unusable name {name:?}",
                shown(path),
                record.offset
            )));
        }
        let kind = if let Some(block) = susp.child_link {
            Kind::Dir(self.relocated_dir(block, record.offset)?)
        } else if record.is_dir() {
            Kind::Dir(DirExtent {
                start: record.data_start(self.block_size),
                size: u64::from(record.size),
                record_offset: record.offset,
            })
        } else if let Some(target) = susp.symlink.as_ref() {
            Kind::Symlink(String::from_utf8_lossy(target).into_owned())
        } else {
            let unsupported = if record.file_unit_size != 0 || record.interleave_gap != 0 {
                Some(Self::interleaved(record))
            } else if susp.zisofs {
                Some(format!(
                    "zisofs-compressed file (Rock Ridge ZF, record at offset {}), which is not supported",
                    record.offset
                ))
            } else {
                None
            };
            Kind::File {
                extents: vec![Extent {
                    start: record.data_start(self.block_size),
                    len: u64::from(record.size),
                }],
                unsupported,
            }
        };
        Ok(Some(Entry {
            name,
            kind,
            record_offset: record.offset,
        }))
    }

    /// The entry named `name`: an exact match first, then (for Joliet and
    /// plain names) one equal ignoring ASCII case.
    fn find(&self, entries: Vec<Entry>, name: &str) -> Option<Entry> {
        let fold = self.names != Names::RockRidge;
        let mut folded = None;
        for entry in entries {
            if entry.name == name {
                return Some(entry);
            }
            if fold && folded.is_none() && entry.name.eq_ignore_ascii_case(name) {
                folded = Some(entry);
            }
        }
        folded
    }

    /// Walks `path` from the root, following symbolic links (relative ones,
    /// inside the image) on the way and at the end.
    fn resolve(&self, path: &str, budget: &mut Budget) -> Result<Node, FsError> {
        // Components still to walk, the next one last.
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        // The directories walked into, with their paths for messages.
        let mut stack: Vec<(String, DirExtent)> = vec![(String::new(), self.root)];
        let mut steps = 0;
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            steps += 1;
            if steps > MAX_LOOKUP_STEPS {
                return Err(FsError::TooLarge(format!(
                    "{}: more than {MAX_LOOKUP_STEPS} path components to walk",
                    shown(path)
                )));
            }
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    if stack.len() == 1 {
                        return Err(FsError::NotFound(format!(
                            "{} (leads above the root of the image)",
                            shown(path)
                        )));
                    }
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let (dir_path, dir) = stack
                .last()
                .cloned()
                .unwrap_or_else(|| (String::new(), self.root));
            let here = if dir_path.is_empty() {
                component.clone()
            } else {
                format!("{dir_path}/{component}")
            };
            let entries = self.entries(&dir, &dir_path, budget)?;
            let Some(entry) = self.find(entries, &component) else {
                return Err(FsError::NotFound(shown(path)));
            };
            match &entry.kind {
                Kind::Dir(sub) => {
                    if let Some((ancestor, _)) = stack.iter().find(|(_, d)| d.start == sub.start) {
                        return Err(corrupt(format!(
                            "directory loop: {} (record at offset {}) points back to {} (offset {}), which contains it",
                            shown(&here),
                            entry.record_offset,
                            shown(ancestor),
                            sub.start
                        )));
                    }
                    if stack.len() > MAX_DEPTH {
                        return Err(FsError::TooLarge(format!(
                            "{}: directories nested more than {MAX_DEPTH} deep",
                            shown(path)
                        )));
                    }
                    stack.push((here, *sub));
                }
                Kind::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(corrupt(format!(
                            "{}: more than {MAX_SYMLINK_HOPS} symbolic links followed (a loop?), the last {}",
                            shown(path),
                            shown(&here)
                        )));
                    }
                    if target.is_empty() || target.starts_with('/') {
                        return Err(FsError::NotFound(format!(
                            "{} (the symbolic link {} points to {target:?}, outside the image)",
                            shown(path),
                            shown(&here)
                        )));
                    }
                    pending.extend(target.split('/').rev().map(str::to_string));
                }
                _ => {
                    if !pending.is_empty() {
                        return Err(FsError::NotADirectory(shown(&here)));
                    }
                    return Ok(Node::Other(entry));
                }
            }
        }
        Ok(Node::Dir(stack.last().map_or(self.root, |(_, dir)| *dir)))
    }

    fn read_entry(&self, entry: &Entry, path: &str, max_bytes: u64) -> Result<Vec<u8>, FsError> {
        let Kind::File {
            extents,
            unsupported,
        } = &entry.kind
        else {
            return Err(FsError::IsADirectory(shown(path)));
        };
        if let Some(why) = unsupported {
            return Err(FsError::Io(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{}: {why}", shown(path)),
            )));
        }
        let total: u64 = extents.iter().map(|e| e.len).sum();
        if total > max_bytes {
            return Err(FsError::file_too_large(&shown(path), total, max_bytes));
        }
        let image = self.dev.size();
        // Parts of one file never overlap, so its data fits in the image;
        // this also bounds the allocation below whatever `max_bytes` is.
        if total > image {
            return Err(corrupt(format!(
                "{}: {total} bytes (record at offset {}), more than the whole image ({image} bytes)",
                shown(path),
                entry.record_offset
            )));
        }
        for (index, extent) in extents.iter().enumerate() {
            if extent.len > 0
                && extent
                    .start
                    .checked_add(extent.len)
                    .is_none_or(|end| end > image)
            {
                return Err(corrupt(format!(
                    "{}: extent {index} (record at offset {}) of {} bytes at offset {} goes past the end of the image ({image} bytes)",
                    shown(path),
                    entry.record_offset,
                    extent.len,
                    extent.start
                )));
            }
        }
        let mut data = vec![0u8; total as usize];
        let mut filled = 0usize;
        for extent in extents {
            let end = filled + extent.len as usize;
            let mut done = filled;
            while done < end {
                let offset = extent.start + (done - filled) as u64;
                let n = self.dev.read_at(offset, &mut data[done..end])?;
                if n == 0 {
                    return Err(corrupt(format!(
                        "{}: the image ends at offset {offset}, inside the file's data",
                        shown(path)
                    )));
                }
                done += n;
            }
            filled = end;
        }
        Ok(data)
    }
}

impl<R: ReadAt> Filesystem for Iso9660<R> {
    fn label(&self) -> &str {
        &self.label
    }

    fn fs_type(&self) -> &'static str {
        "iso9660"
    }

    fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let mut budget = Budget::new();
        match self.resolve(path, &mut budget)? {
            Node::Dir(dir) => Ok(self
                .entries(&dir, path, &mut budget)?
                .iter()
                .map(Entry::dir_entry)
                .collect()),
            Node::Other(_) => Err(FsError::NotADirectory(shown(path))),
        }
    }

    fn read_file(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, FsError> {
        match self.resolve(path, &mut Budget::new())? {
            Node::Dir(_) => Err(FsError::IsADirectory(shown(path))),
            Node::Other(entry) => self.read_entry(&entry, path, max_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Hand-built images for what real tools do not write: multi-extent
    //! files, loops, broken chains, overruns. Layout: descriptors at 16..,
    //! the root directory at block 20, data wherever a test puts it.

    use super::*;

    const ROOT: u32 = 20;
    const MB: u64 = 1 << 20;

    struct Image(Vec<u8>);

    impl Image {
        /// An image of `sectors` sectors with a primary descriptor (root at
        /// block 20, one sector) and a terminator at 17.
        fn new(sectors: usize) -> Image {
            let mut image = Image(vec![0; sectors * 2048]);
            image.descriptor(16, 1, ROOT, 2048);
            image.descriptor(17, 255, 0, 0);
            image
        }

        fn descriptor(&mut self, sector: usize, kind: u8, root: u32, root_size: u32) {
            let at = sector * 2048;
            let d = &mut self.0[at..at + 2048];
            d.fill(0);
            d[0] = kind;
            d[1..6].copy_from_slice(b"CD001");
            d[6] = 1;
            if kind == 255 {
                return;
            }
            d[40..72].fill(b' ');
            d[40..46].copy_from_slice(b"cidata");
            d[128..130].copy_from_slice(&2048u16.to_le_bytes());
            d[130..132].copy_from_slice(&2048u16.to_be_bytes());
            let root = record(root, root_size, FLAG_DIRECTORY, &[0], &[]);
            d[156..190].copy_from_slice(&root);
            if kind == 2 {
                d[88..91].copy_from_slice(b"%/E");
            }
        }

        fn put(&mut self, at: usize, bytes: &[u8]) {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }

        /// Records packed from block `lba` on, a record that does not fit
        /// in a sector's rest starting the next sector (as writers do).
        fn dir(&mut self, lba: u32, records: &[Vec<u8>]) {
            let mut at = lba as usize * 2048;
            for r in records {
                if at % 2048 + r.len() > 2048 {
                    at = (at / 2048 + 1) * 2048;
                }
                self.put(at, r);
                at += r.len();
            }
        }

        /// A directory at `lba` holding `.`, `..` and `records`.
        fn dir_with(&mut self, lba: u32, parent: u32, records: &[Vec<u8>]) {
            let mut all = vec![
                record(lba, 2048, FLAG_DIRECTORY, &[0], &[]),
                record(parent, 2048, FLAG_DIRECTORY, &[1], &[]),
            ];
            all.extend_from_slice(records);
            self.dir(lba, &all);
        }

        /// The root with Rock Ridge announced (SP, ER) in its `.` record.
        fn rock_ridge_root(&mut self, records: &[Vec<u8>]) {
            let mut su = sp(0);
            su.extend(er());
            let mut all = vec![
                record(ROOT, 2048, FLAG_DIRECTORY, &[0], &su),
                record(ROOT, 2048, FLAG_DIRECTORY, &[1], &[]),
            ];
            all.extend_from_slice(records);
            self.dir(ROOT, &all);
        }

        fn open(self) -> Result<Iso9660<Vec<u8>>, FsError> {
            Iso9660::open(self.0)
        }
    }

    fn record(extent: u32, size: u32, flags: u8, ident: &[u8], su: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[28..32].copy_from_slice(&[1, 0, 0, 1]);
        r[32] = ident.len() as u8;
        r.extend_from_slice(ident);
        if ident.len().is_multiple_of(2) {
            r.push(0);
        }
        r.extend_from_slice(su);
        if !r.len().is_multiple_of(2) {
            r.push(0);
        }
        r[0] = r.len() as u8;
        r
    }

    fn file(extent: u32, size: u32, ident: &[u8], su: &[u8]) -> Vec<u8> {
        record(extent, size, 0, ident, su)
    }

    /// A System Use entry.
    fn entry(signature: &[u8; 2], data: &[u8]) -> Vec<u8> {
        let mut e = vec![signature[0], signature[1], (4 + data.len()) as u8, 1];
        e.extend_from_slice(data);
        e
    }

    fn both(value: u32) -> Vec<u8> {
        let mut b = value.to_le_bytes().to_vec();
        b.extend_from_slice(&value.to_be_bytes());
        b
    }

    fn sp(skip: u8) -> Vec<u8> {
        entry(b"SP", &[0xBE, 0xEF, skip])
    }

    fn er() -> Vec<u8> {
        let id = b"RRIP_1991A";
        let mut data = vec![id.len() as u8, 0, 0, 1];
        data.extend_from_slice(id);
        entry(b"ER", &data)
    }

    fn nm(flags: u8, name: &[u8]) -> Vec<u8> {
        let mut data = vec![flags];
        data.extend_from_slice(name);
        entry(b"NM", &data)
    }

    fn ce(block: u32, offset: u32, len: u32) -> Vec<u8> {
        let mut data = both(block);
        data.extend(both(offset));
        data.extend(both(len));
        entry(b"CE", &data)
    }

    fn sl(flags: u8, components: &[(u8, &[u8])]) -> Vec<u8> {
        let mut data = vec![flags];
        for (f, text) in components {
            data.push(*f);
            data.push(text.len() as u8);
            data.extend_from_slice(text);
        }
        entry(b"SL", &data)
    }

    fn corrupt_message<T>(result: Result<T, FsError>) -> String {
        match result {
            Err(FsError::Corrupt(msg)) => msg,
            Err(e) => panic!("expected Corrupt, got {e:?}"),
            Ok(_) => panic!("expected Corrupt, got success"),
        }
    }

    fn too_large_message<T>(result: Result<T, FsError>) -> String {
        match result {
            Err(FsError::TooLarge(msg)) => msg,
            Err(e) => panic!("expected TooLarge, got {e:?}"),
            Ok(_) => panic!("expected TooLarge, got success"),
        }
    }

    fn listing(fs: &dyn Filesystem, path: &str) -> Vec<String> {
        let mut names: Vec<String> = fs
            .list_dir(path)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn plain_names_are_mapped_like_linux_map_normal() {
        assert_eq!(plain_name(b"META_DAT.;1"), "meta_dat");
        assert_eq!(plain_name(b"NOEXT.;1"), "noext");
        assert_eq!(plain_name(b"FOO.TXT;1"), "foo.txt");
        assert_eq!(plain_name(b"FOO.TXT;12"), "foo.txt");
        assert_eq!(plain_name(b"FOO.TXT"), "foo.txt");
        assert_eq!(plain_name(b"OPENSTAC"), "openstac");
        assert_eq!(plain_name(b"A;B;2"), "a.b");
        assert_eq!(plain_name(b"A/B"), "a.b");
        assert_eq!(plain_name(b"NUL\0JUNK"), "nul");
    }

    #[test]
    fn joliet_names_are_utf16_without_version_or_trailing_dots() {
        let ucs2 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_be_bytes).collect() };
        assert_eq!(joliet_name(&ucs2("meta_data.json;1")), "meta_data.json");
        assert_eq!(joliet_name(&ucs2("MixedCase")), "MixedCase");
        assert_eq!(joliet_name(&ucs2("emoji-😀.txt")), "emoji-😀.txt");
        assert_eq!(joliet_name(&ucs2("trailing..")), "trailing");
        assert_eq!(joliet_name(&ucs2("..")), "..");
        let mut odd = ucs2("odd");
        odd.push(b'x');
        assert_eq!(joliet_name(&odd), "odd");
        // A lone surrogate cannot be decoded; it is replaced, not a panic.
        assert_eq!(joliet_name(&[0xD8, 0x00, 0, b'a']), "\u{FFFD}a");
    }

    #[test]
    fn a_minimal_hand_built_image_reads() {
        let mut img = Image::new(40);
        img.dir_with(
            ROOT,
            ROOT,
            &[
                file(30, 5, b"META_DAT.;1", &[]),
                record(21, 2048, FLAG_DIRECTORY, b"SUB", &[]),
            ],
        );
        img.dir_with(21, ROOT, &[file(31, 3, b"X.;1", &[])]);
        img.put(30 * 2048, b"hello");
        img.put(31 * 2048, b"abc");
        assert_eq!(probe_label(&img.0).as_deref(), Some("cidata"));
        let fs = img.open().unwrap();
        assert_eq!(fs.names(), Names::Iso9660);
        assert_eq!(listing(&fs, ""), ["meta_dat", "sub"]);
        assert_eq!(fs.read_file("meta_dat", MB).unwrap(), b"hello");
        assert_eq!(fs.read_file("SUB/x", MB).unwrap(), b"abc");
        assert_eq!(fs.read_file("sub/../sub/./x", MB).unwrap(), b"abc");
    }

    #[test]
    fn multi_extent_files_are_joined() {
        let mut img = Image::new(40);
        img.dir_with(
            ROOT,
            ROOT,
            &[
                record(30, 2048, FLAG_MULTI_EXTENT, b"BIG.;1", &[]),
                record(34, 2048, FLAG_MULTI_EXTENT, b"BIG.;1", &[]),
                file(32, 100, b"BIG.;1", &[]),
                file(33, 1, b"SMALL.;1", &[]),
            ],
        );
        img.put(30 * 2048, &[1; 2048]);
        img.put(34 * 2048, &[3; 2048]);
        img.put(32 * 2048, &[2; 100]);
        img.put(33 * 2048, b"s");
        let fs = img.open().unwrap();
        let entries = fs.list_dir("").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "big");
        assert_eq!(entries[0].size, 4196);
        let data = fs.read_file("big", MB).unwrap();
        let mut want = vec![1; 2048];
        want.extend([3; 2048]);
        want.extend([2; 100]);
        assert_eq!(data, want);
        assert_eq!(fs.read_file("small", MB).unwrap(), b"s");
        too_large_message(fs.read_file("big", 4195));
    }

    #[test]
    fn a_multi_extent_file_without_its_last_part_is_corrupt() {
        let mut img = Image::new(40);
        img.dir_with(
            ROOT,
            ROOT,
            &[record(30, 2048, FLAG_MULTI_EXTENT, b"BIG.;1", &[])],
        );
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("last part is missing"), "{msg}");

        let mut img = Image::new(40);
        img.dir_with(
            ROOT,
            ROOT,
            &[
                record(30, 2048, FLAG_MULTI_EXTENT, b"BIG.;1", &[]),
                file(31, 10, b"OTHER.;1", &[]),
            ],
        );
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("followed at offset"), "{msg}");
    }

    #[test]
    fn extended_attribute_records_come_before_the_data() {
        let mut img = Image::new(40);
        let mut r = file(30, 4, b"F.;1", &[]);
        r[1] = 2; // two blocks of extended attributes
        img.dir_with(ROOT, ROOT, &[r]);
        img.put(30 * 2048, b"attr");
        img.put(32 * 2048, b"data");
        assert_eq!(img.open().unwrap().read_file("f", MB).unwrap(), b"data");
    }

    #[test]
    fn associated_files_are_hidden_and_interleaved_files_refused() {
        let mut img = Image::new(40);
        let mut interleaved = file(31, 4, b"IL.;1", &[]);
        interleaved[26] = 1;
        interleaved[27] = 1;
        img.dir_with(
            ROOT,
            ROOT,
            &[
                record(30, 4, FLAG_ASSOCIATED, b"F.;1", &[]),
                file(30, 4, b"F.;1", &[]),
                interleaved,
            ],
        );
        let fs = img.open().unwrap();
        assert_eq!(listing(&fs, ""), ["f", "il"]);
        match fs.read_file("il", MB) {
            Err(FsError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::Unsupported);
                assert!(e.to_string().contains("interleaved"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn records_must_not_cross_a_sector_and_zero_padding_skips_to_the_next() {
        // Two sectors, the second reached through zero padding.
        let mut img = Image::new(40);
        let mut records = vec![
            record(ROOT, 4096, FLAG_DIRECTORY, &[0], &[]),
            record(ROOT, 4096, FLAG_DIRECTORY, &[1], &[]),
        ];
        for i in 0..60 {
            records.push(file(30, 0, format!("FILE{i:02}.;1").as_bytes(), &[]));
        }
        img.dir(ROOT, &records);
        img.put(16 * 2048 + 156 + 10, &both(4096));
        let fs = img.open().unwrap();
        assert_eq!(fs.list_dir("").unwrap().len(), 60);

        // A record running over the sector end: "." and ".." take 68
        // bytes, 58 records of 34 end 8 bytes before it.
        let mut img = Image::new(40);
        img.dir_with(ROOT, ROOT, &[]);
        let mut at = ROOT as usize * 2048 + 68;
        for _ in 0..58 {
            img.put(at, &file(30, 0, b"A", &[]));
            at += 34;
        }
        img.put(at, &file(30, 0, b"ACROSS.;1", &[]));
        img.put(16 * 2048 + 156 + 10, &both(4096));
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("crosses the sector boundary"), "{msg}");
    }

    #[test]
    fn malformed_records_are_named() {
        let mut img = Image::new(40);
        img.dir_with(ROOT, ROOT, &[]);
        // A record of length 20 after "." and "..".
        img.put(ROOT as usize * 2048 + 68, &[20]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("shorter than the 34-byte minimum"), "{msg}");

        let mut img = Image::new(40);
        let mut r = file(30, 0, b"NAME.;1", &[]);
        r[32] = 200;
        img.dir_with(ROOT, ROOT, &[r]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("file identifier length 200"), "{msg}");
    }

    #[test]
    fn sizes_and_extents_outside_the_image() {
        let mut img = Image::new(40);
        img.dir_with(
            ROOT,
            ROOT,
            &[
                file(39, 4096, b"PAST.;1", &[]),
                file(0, 0xffff_0000, b"HUGE.;1", &[]),
                record(38, 0x7fff_0000, FLAG_DIRECTORY, b"BIGDIR", &[]),
                record(1000, 2048, FLAG_DIRECTORY, b"GONE", &[]),
            ],
        );
        let fs = img.open().unwrap();
        let msg = corrupt_message(fs.read_file("past", MB));
        assert!(
            msg.contains("extent 0") && msg.contains("past the end of the image"),
            "{msg}"
        );
        too_large_message(fs.read_file("huge", MB));
        let msg = corrupt_message(fs.read_file("huge", u64::MAX));
        assert!(msg.contains("more than the whole image"), "{msg}");
        let msg = too_large_message(fs.list_dir("bigdir"));
        assert!(
            msg.contains("/bigdir") && msg.contains("more than the limit"),
            "{msg}"
        );
        let msg = corrupt_message(fs.list_dir("gone"));
        assert!(
            msg.contains("directory /gone") && msg.contains("past the end"),
            "{msg}"
        );
    }

    #[test]
    fn too_many_records_in_one_directory() {
        let per_sector = 2048 / 34;
        let sectors = MAX_DIR_ENTRIES / per_sector + 2;
        let mut img = Image::new(ROOT as usize + sectors + 1);
        let size = (sectors * 2048) as u32;
        let mut records = vec![
            record(ROOT, size, FLAG_DIRECTORY, &[0], &[]),
            record(ROOT, size, FLAG_DIRECTORY, &[1], &[]),
        ];
        records.extend(std::iter::repeat_n(file(0, 0, b"A", &[]), MAX_DIR_ENTRIES));
        img.dir(ROOT, &records);
        img.put(16 * 2048 + 156 + 10, &both(size));
        let msg = too_large_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("more than 65536 records"), "{msg}");
    }

    #[test]
    fn directory_loops_and_depth() {
        // A directory pointing to itself.
        let mut img = Image::new(40);
        img.dir_with(ROOT, ROOT, &[record(21, 2048, FLAG_DIRECTORY, b"A", &[])]);
        img.dir_with(21, ROOT, &[record(21, 2048, FLAG_DIRECTORY, b"SELF", &[])]);
        let fs = img.open().unwrap();
        assert_eq!(listing(&fs, "a"), ["self"]);
        let msg = corrupt_message(fs.list_dir("a/self"));
        assert!(msg.contains("directory loop: /a/self"), "{msg}");

        // A chain deeper than the cap, each level its own directory.
        let levels = MAX_DEPTH as u32 + 5;
        let mut img = Image::new(ROOT as usize + levels as usize + 2);
        img.dir_with(
            ROOT,
            ROOT,
            &[record(ROOT + 1, 2048, FLAG_DIRECTORY, b"D", &[])],
        );
        for level in 1..=levels {
            let lba = ROOT + level;
            img.dir_with(
                lba,
                lba - 1,
                &[record(lba + 1, 2048, FLAG_DIRECTORY, b"D", &[])],
            );
        }
        let fs = img.open().unwrap();
        assert_eq!(listing(&fs, &["d"; 100].join("/")), ["d"]);
        let msg = too_large_message(fs.list_dir(&["d"; MAX_DEPTH + 2].join("/")));
        assert!(msg.contains("nested more than 256"), "{msg}");
        // A path of endless "." components is bounded too.
        too_large_message(fs.list_dir(&["."; MAX_LOOKUP_STEPS + 1].join("/")));
    }

    #[test]
    fn one_lookup_reads_a_bounded_amount_of_directories() {
        // Directories of 15 MiB each (overlapping, as a hostile image may
        // have them), each leading to the next through "D".
        let size = 15 << 20;
        let levels = 8u32;
        let mut img = Image::new(ROOT as usize + levels as usize + (size as usize >> 11) + 1);
        img.put(16 * 2048 + 156 + 10, &both(size));
        for level in 0..levels {
            let lba = ROOT + level;
            img.dir(
                lba,
                &[
                    record(lba, size, FLAG_DIRECTORY, &[0], &[]),
                    record(lba, size, FLAG_DIRECTORY, &[1], &[]),
                    record(lba + 1, size, FLAG_DIRECTORY, b"D", &[]),
                ],
            );
        }
        let fs = img.open().unwrap();
        assert!(fs.list_dir("d/d/d").is_ok());
        let msg = too_large_message(fs.list_dir("d/d/d/d/d"));
        assert!(
            msg.contains("/d/d/d/d") && msg.contains("bytes of directory data for one lookup"),
            "{msg}"
        );
    }

    #[test]
    fn no_cd001_no_terminator_bad_block_size() {
        assert!(matches!(
            Iso9660::open(vec![0u8; 40 * 2048]),
            Err(FsError::NotThisFs("iso9660"))
        ));

        let mut img = Image::new(100);
        img.descriptor(17, 0, 0, 0); // a boot record instead of the terminator
        for sector in 18..90 {
            img.descriptor(sector, 0, 0, 0);
        }
        let msg = corrupt_message(img.open());
        assert!(msg.contains("no volume descriptor set terminator"), "{msg}");

        let mut img = Image::new(40);
        img.0[17 * 2048 + 1] = b'X';
        let msg = corrupt_message(img.open());
        assert!(msg.contains("sector 17") && msg.contains("CD001"), "{msg}");

        let mut img = Image::new(40);
        img.put(16 * 2048 + 128, &[0, 2, 0, 2]); // 512 LE, 2 BE
        let msg = corrupt_message(img.open());
        assert!(
            msg.contains("logical block size") && msg.contains("big-endian"),
            "{msg}"
        );

        let mut img = Image::new(40);
        img.put(16 * 2048 + 128, &[0, 16, 16, 0]); // 4096
        let msg = corrupt_message(img.open());
        assert!(msg.contains("must be 512, 1024 or 2048"), "{msg}");

        let mut img = Image::new(40);
        img.0[16 * 2048 + 156 + 25] = 0; // the root is not a directory
        let msg = corrupt_message(img.open());
        assert!(msg.contains("not flagged as a directory"), "{msg}");

        // Sector 16 is not the primary descriptor: no cheap label.
        let mut img = Image::new(40);
        img.descriptor(16, 0, 0, 0);
        img.descriptor(17, 1, ROOT, 2048);
        img.descriptor(18, 255, 0, 0);
        assert_eq!(probe_label(&img.0), None);
        assert_eq!(img.open().unwrap().label(), "cidata");

        // The image ends inside the descriptor set.
        let mut img = Image::new(40);
        img.0.truncate(17 * 2048 + 100);
        let msg = corrupt_message(img.open());
        assert!(msg.contains("inside the volume descriptor set"), "{msg}");
    }

    #[test]
    fn rock_ridge_names_continued_across_entries_and_areas() {
        let mut img = Image::new(40);
        let mut long = nm(1, b"hello-");
        long.extend(ce(25, 100, 40));
        img.rock_ridge_root(&[
            file(30, 3, b"HELLO_WO.;1", &long),
            file(31, 1, b"PLAIN.;1", &[]),
            file(
                31,
                1,
                b"TWO.;1",
                &[nm(1, b"two-"), nm(0, b"parts"), nm(0, b"ignored")].concat(),
            ),
        ]);
        img.put(25 * 2048 + 100, &nm(0, b"world"));
        img.put(30 * 2048, b"hi!");
        img.put(31 * 2048, b"p");
        let fs = img.open().unwrap();
        assert_eq!(fs.names(), Names::RockRidge);
        assert_eq!(listing(&fs, ""), ["hello-world", "plain", "two-parts"]);
        assert_eq!(fs.read_file("hello-world", MB).unwrap(), b"hi!");
        // Rock Ridge names match exactly.
        assert!(matches!(
            fs.read_file("Hello-World", MB),
            Err(FsError::NotFound(_))
        ));
    }

    #[test]
    fn len_skp_is_skipped_in_every_record() {
        let mut img = Image::new(40);
        let mut su = sp(2);
        su.extend(er());
        let mut skipped = vec![0xAA, 0xBB];
        skipped.extend(nm(0, b"real-name"));
        img.dir(
            ROOT,
            &[
                record(ROOT, 2048, FLAG_DIRECTORY, &[0], &su),
                record(ROOT, 2048, FLAG_DIRECTORY, &[1], &[]),
                file(30, 1, b"X.;1", &skipped),
            ],
        );
        assert_eq!(listing(&img.open().unwrap(), ""), ["real-name"]);
    }

    #[test]
    fn continuation_chains_are_bounded() {
        // A continuation area pointing to itself.
        let mut img = Image::new(40);
        img.rock_ridge_root(&[file(30, 0, b"X.;1", &ce(25, 0, 28))]);
        img.put(25 * 2048, &ce(25, 0, 28));
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("loops back"), "{msg}");

        // A chain of 33 distinct areas.
        let mut img = Image::new(40);
        img.rock_ridge_root(&[file(30, 0, b"X.;1", &ce(25, 0, 28))]);
        for k in 0..40u32 {
            img.put(25 * 2048 + 28 * k as usize, &ce(25, 28 * (k + 1), 28));
        }
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("more than 32 continuation areas"), "{msg}");

        // An area running over its block, and one outside the image.
        let mut img = Image::new(40);
        img.rock_ridge_root(&[file(30, 0, b"X.;1", &ce(25, 2000, 100))]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(msg.contains("overrun its 2048-byte block"), "{msg}");
        let mut img = Image::new(40);
        img.rock_ridge_root(&[file(30, 0, b"X.;1", &ce(4000, 0, 100))]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(
            msg.contains("continuation (CE)") && msg.contains("past the end of the image"),
            "{msg}"
        );

        // An entry longer than what is left of its area.
        let mut img = Image::new(40);
        let mut bad = nm(0, b"name");
        bad[2] = 60;
        img.rock_ridge_root(&[file(30, 0, b"X.;1", &bad)]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(
            msg.contains("System Use entry NM") && msg.contains("has length 60"),
            "{msg}"
        );
    }

    #[test]
    fn unusable_names_are_corrupt() {
        for name in [&b".."[..], b"a/b", b"."] {
            let mut img = Image::new(40);
            img.rock_ridge_root(&[file(30, 0, b"X.;1", &nm(0, name))]);
            let msg = corrupt_message(img.open().unwrap().list_dir(""));
            assert!(msg.contains("unusable name"), "{msg}");
        }
        // 150 + 105 bytes is the longest name; one more is too long.
        for (rest, ok) in [(105, true), (106, false)] {
            let mut img = Image::new(40);
            let mut su = nm(1, &[b'n'; 150]);
            su.extend(ce(25, 0, 5 + rest));
            img.rock_ridge_root(&[file(30, 0, b"X.;1", &su)]);
            img.put(25 * 2048, &nm(0, &vec![b'm'; rest as usize]));
            let result = img.open().unwrap().list_dir("");
            if ok {
                assert_eq!(result.unwrap()[0].name.len(), 255);
            } else {
                let msg = corrupt_message(result);
                assert!(msg.contains("longer than 255 bytes"), "{msg}");
            }
        }
    }

    #[test]
    fn symbolic_link_components() {
        let mut img = Image::new(40);
        img.rock_ridge_root(&[
            record(21, 2048, FLAG_DIRECTORY, b"OPENSTAC", &nm(0, b"openstack")),
            // "open" + "stack" split over two SL entries, then "/x".
            file(
                0,
                0,
                b"LINK.;1",
                &[
                    nm(0, b"link"),
                    sl(1, &[(1, b"open")]),
                    sl(0, &[(0, b"stack"), (0, b"x")]),
                ]
                .concat(),
            ),
            file(
                0,
                0,
                b"DOTS.;1",
                &[
                    nm(0, b"dots"),
                    sl(
                        0,
                        &[
                            (2, b""),
                            (0, b"openstack"),
                            (4, b""),
                            (0, b"openstack"),
                            (0, b"x"),
                        ],
                    ),
                ]
                .concat(),
            ),
            file(
                0,
                0,
                b"ROOT.;1",
                &[nm(0, b"root"), sl(0, &[(8, b""), (0, b"etc")])].concat(),
            ),
            file(
                0,
                0,
                b"SELF.;1",
                &[nm(0, b"self"), sl(0, &[(0, b"self")])].concat(),
            ),
        ]);
        img.dir_with(21, ROOT, &[file(30, 2, b"X.;1", &nm(0, b"x"))]);
        img.put(30 * 2048, b"ok");
        let fs = img.open().unwrap();
        let entries = fs.list_dir("").unwrap();
        let link = entries.iter().find(|e| e.name == "link").unwrap();
        assert_eq!(link.size, "openstack/x".len() as u64);
        assert_eq!(fs.read_file("link", MB).unwrap(), b"ok");
        assert_eq!(fs.read_file("dots", MB).unwrap(), b"ok");
        match fs.read_file("root", MB) {
            Err(FsError::NotFound(msg)) => {
                assert!(msg.contains("\"/etc\", outside the image"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        let msg = corrupt_message(fs.read_file("self", MB));
        assert!(msg.contains("more than 40 symbolic links"), "{msg}");

        // A component overrunning its entry.
        let mut img = Image::new(40);
        let mut bad = sl(0, &[(0, b"abc")]);
        bad[6] = 50;
        img.rock_ridge_root(&[file(0, 0, b"L.;1", &bad)]);
        let msg = corrupt_message(img.open().unwrap().list_dir(""));
        assert!(
            msg.contains("symbolic link (SL)") && msg.contains("overruns"),
            "{msg}"
        );
    }

    #[test]
    fn relocated_directories_follow_their_child_link() {
        let mut img = Image::new(40);
        img.rock_ridge_root(&[
            file(
                0,
                0,
                b"DEEP",
                &[nm(0, b"deep"), entry(b"CL", &both(22))].concat(),
            ),
            record(21, 2048, FLAG_DIRECTORY, b"RR_MOVED", &nm(0, b"rr_moved")),
            file(
                0,
                0,
                b"BAD",
                &[nm(0, b"bad"), entry(b"CL", &both(23))].concat(),
            ),
        ]);
        img.dir_with(
            21,
            ROOT,
            &[record(
                22,
                2048,
                FLAG_DIRECTORY,
                b"DEEP",
                &[nm(0, b"deep"), entry(b"RE", &[])].concat(),
            )],
        );
        img.dir_with(22, 21, &[file(30, 4, b"F.;1", &nm(0, b"f"))]);
        img.put(30 * 2048, b"deep");
        // Block 23 holds no directory.
        img.put(23 * 2048, &file(0, 0, b"JUNK", &[]));
        let fs = img.open();
        let msg = corrupt_message(
            fs.as_ref()
                .map(|fs| fs.list_dir(""))
                .unwrap_or_else(|e| panic!("{e:?}")),
        );
        assert!(
            msg.contains("child link (CL)") && msg.contains("block 23"),
            "{msg}"
        );

        let mut img = Image::new(40);
        img.rock_ridge_root(&[
            file(
                0,
                0,
                b"DEEP",
                &[nm(0, b"deep"), entry(b"CL", &both(22))].concat(),
            ),
            record(21, 2048, FLAG_DIRECTORY, b"RR_MOVED", &nm(0, b"rr_moved")),
        ]);
        img.dir_with(
            21,
            ROOT,
            &[record(
                22,
                2048,
                FLAG_DIRECTORY,
                b"DEEP",
                &[nm(0, b"deep"), entry(b"RE", &[])].concat(),
            )],
        );
        img.dir_with(22, 21, &[file(30, 4, b"F.;1", &nm(0, b"f"))]);
        img.put(30 * 2048, b"deep");
        let fs = img.open().unwrap();
        assert_eq!(listing(&fs, ""), ["deep", "rr_moved"]);
        assert!(fs.list_dir("").unwrap()[0].is_dir);
        assert!(listing(&fs, "rr_moved").is_empty());
        assert_eq!(fs.read_file("deep/f", MB).unwrap(), b"deep");
    }

    #[test]
    fn rock_ridge_wins_over_joliet_and_joliet_over_plain() {
        let ucs2 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_be_bytes).collect() };
        let build = |rock_ridge: bool| {
            let mut img = Image::new(40);
            img.descriptor(17, 2, 21, 2048);
            img.descriptor(18, 255, 0, 0);
            let rr_name = nm(0, b"rock-ridge-name");
            let primary = file(30, 1, b"PLAIN.;1", if rock_ridge { &rr_name } else { &[] });
            if rock_ridge {
                img.rock_ridge_root(&[primary]);
            } else {
                // SUSP without Rock Ridge: an SP and nothing else.
                img.dir(
                    ROOT,
                    &[
                        record(ROOT, 2048, FLAG_DIRECTORY, &[0], &sp(0)),
                        record(ROOT, 2048, FLAG_DIRECTORY, &[1], &[]),
                        primary,
                    ],
                );
            }
            img.dir_with(21, 21, &[file(30, 1, &ucs2("Joliet Name.txt;1"), &[])]);
            img.put(30 * 2048, b"j");
            img.open().unwrap()
        };
        let fs = build(true);
        assert_eq!(fs.names(), Names::RockRidge);
        assert_eq!(listing(&fs, ""), ["rock-ridge-name"]);
        let fs = build(false);
        assert_eq!(fs.names(), Names::Joliet);
        assert_eq!(listing(&fs, ""), ["Joliet Name.txt"]);
        assert_eq!(fs.read_file("JOLIET NAME.TXT", MB).unwrap(), b"j");
    }
}
